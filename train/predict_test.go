package train

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// TestPredictCarriesMeta: a clip's extra manifest keys come back with its
// prediction, unchanged, and clips without any carry none.
func TestPredictCarriesMeta(t *testing.T) {
	clips := append([]data.Clip(nil), data.FilterSplit(demoSet(t), "train")[:4]...)
	clips[1].Meta = map[string]json.RawMessage{"speaker": json.RawMessage(`"spk03"`), "take": json.RawMessage(`2`)}
	m := tinyModel(t, layers.Classification, func(c *config.Config) { c.NumLabels = 4 })
	var out bytes.Buffer
	if _, err := Predict(context.Background(), m, clips, EvalOptions{Task: TaskClassification, BatchSize: 2}, &out); err != nil {
		t.Fatal(err)
	}
	seen := 0
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p struct {
			ID   string                     `json:"id"`
			Meta map[string]json.RawMessage `json:"meta"`
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		if p.ID == clips[1].ID {
			if string(p.Meta["speaker"]) != `"spk03"` || string(p.Meta["take"]) != "2" || len(p.Meta) != 2 {
				t.Errorf("%s meta %v", p.ID, p.Meta)
			}
		} else if p.Meta != nil {
			t.Errorf("%s has meta %v, its clip has none", p.ID, p.Meta)
		}
	}
	if seen != len(clips) {
		t.Errorf("%d predictions for %d clips", seen, len(clips))
	}
}
