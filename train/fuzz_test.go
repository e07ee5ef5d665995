package train

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/internal/allocs"
)

// FuzzReadState writes the input as a checkpoint's trainer_state.json and
// reads it with ReadState. It must not panic; it returns either an error
// naming the file or a state that saveCheckpoint's encoding writes back
// stably (encode, decode, encode gives the same bytes). Allocation stays
// within 64 × len(input) + 64 MiB.
func FuzzReadState(f *testing.F) {
	best := 0.25
	for _, s := range []State{
		{},
		{Task: "classify", Step: 120, Epoch: 3, Batch: 7, Total: 1000, Seed: 42, BatchSize: 8, GradAccum: 2, Samples: 1920, Elapsed: 63.5,
			BestMetric: "accuracy", BestValue: &best, BestStep: 100,
			Train: map[string]float64{"loss": 0.69, "lr": 1e-4}, Eval: map[string]float64{"accuracy": 0.25}},
		{Task: "pretrain", Step: 1, Seed: 18446744073709551615, BestMetric: "loss"},
	} {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(b, '\n'))
	}
	for _, s := range []string{
		`{"step": -1, "epoch": 1e3, "seed": -5}`,
		`{"step": "12"}`,
		`{"best_value": null, "train_metrics": {"loss": 1e400}}`,
		`{"task": "vqa", "eval_metrics": {}, "unknown": [1, 2, {"x": null}]}`,
		`{"step": 3} trailing`,
		``,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, TrainerStateFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var s State
		var err error
		alloc := allocs.Of(func() { s, err = ReadState(dir) })
		if limit := uint64(64<<20) + 64*uint64(len(b)); alloc > limit {
			t.Fatalf("reading %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "train: "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b1, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatalf("encoding a state read from disk: %v", err)
		}
		if err := os.WriteFile(path, b1, 0o644); err != nil {
			t.Fatal(err)
		}
		s2, err := ReadState(dir)
		if err != nil {
			t.Fatalf("reading back the state written: %v\n%s", err, b1)
		}
		b2, err := json.MarshalIndent(s2, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("trainer_state.json changes on a second round trip:\n%s\nthen\n%s", b1, b2)
		}
	})
}
