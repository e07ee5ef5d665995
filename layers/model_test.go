package layers

import (
	"testing"

	"github.com/tvlt-go/tvlt/config"
)

func TestParameterCountsMatchReference(t *testing.T) {
	c := config.Default()
	for _, tc := range []struct {
		kind   Kind
		labels int
		want   int
	}{
		{Base, 2, 86107392},
		{Pretraining, 2, 113014017},
		{Classification, 1, 87293185},
		{Classification, 2, 87294722},
	} {
		c.NumLabels = tc.labels
		shapes, err := ParamShapes(tc.kind, c)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, s := range shapes {
			n := 1
			for _, d := range s {
				n *= d
			}
			got += n
		}
		if got != tc.want {
			t.Errorf("%v (%d labels): %d parameters, want %d", tc.kind, tc.labels, got, tc.want)
		}
	}
}
