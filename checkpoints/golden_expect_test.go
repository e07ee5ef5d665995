package checkpoints_test

import (
	"path/filepath"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
)

// goldenExpect derives what a golden set's weights file must hold from the
// set's config (not from the file itself, nor from the public set's
// numbers): the parameter shapes of a model of that kind and config, their
// count and their total size, so the tests hold on any valid set.
func goldenExpect(t *testing.T, dir, configFile string, kind layers.Kind) (shapes map[string][]int, tensors, params int) {
	t.Helper()
	cfg, err := config.Read(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	shapes, err = layers.ParamShapes(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		params += n
	}
	return shapes, len(shapes), params
}
