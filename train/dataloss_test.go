package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// runTiny trains a tiny pretraining model into opts.Out.
func runTiny(t *testing.T, o Options) (*Summary, error) {
	t.Helper()
	clips := data.FilterSplit(demoSet(t), "train")
	tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Run(context.Background())
}

// TestRunModelChecksummed: the run folder's final model.safetensors gets a
// checksum, so a flipped byte is a load error naming the file instead of
// silently different weights (which export would then re-checksum).
func TestRunModelChecksummed(t *testing.T) {
	out := t.TempDir()
	o := pretrainOpts(out)
	o.Steps = 2
	if _, err := runTiny(t, o); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.VerifyFile(out, ModelFile); err != nil {
		t.Fatalf("final model: %v", err)
	}
	if _, err := LoadModel(out); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, ModelFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(out); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("loading a model with a flipped byte: %v, want a checksum error naming %s", err, p)
	}
}
