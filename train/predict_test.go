package train

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
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

// TestPredictUnlabeled: a classifier predicts clips that carry no label
// for every loss type (a user's own videos), with the same logits as on the
// labelled clips, and no metrics.
func TestPredictUnlabeled(t *testing.T) {
	labelled := data.FilterSplit(demoSet(t), "train")[:4]
	bare := append([]data.Clip(nil), labelled...)
	for i := range bare {
		bare[i].Label = data.Label{}
	}
	for _, tc := range []struct {
		task Task
		n    int
	}{{TaskClassification, 4}, {TaskRegression, 1}, {TaskMultilabel, 3}, {TaskVQA, 4}} {
		m := tinyModel(t, layers.Classification, func(c *config.Config) { c.NumLabels, c.LossType = tc.n, tc.task.LossType() })
		var out bytes.Buffer
		met, err := Predict(context.Background(), m, bare, EvalOptions{Task: tc.task, BatchSize: 2}, &out)
		if err != nil {
			t.Fatalf("%s: %v", tc.task, err)
		}
		if len(met) != 0 {
			t.Errorf("%s: metrics %v without labels", tc.task, met)
		}
		var lines []map[string]any
		dec := json.NewDecoder(&out)
		for dec.More() {
			var p map[string]any
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if _, ok := p["target"]; ok {
				t.Errorf("%s: %v has a target", tc.task, p)
			}
			lines = append(lines, p)
		}
		if len(lines) != len(bare) {
			t.Fatalf("%s: %d predictions for %d clips", tc.task, len(lines), len(bare))
		}
		if tc.task != TaskClassification {
			continue
		}
		var ref bytes.Buffer
		if _, err := Predict(context.Background(), m, labelled, EvalOptions{Task: tc.task, BatchSize: 2}, &ref); err != nil {
			t.Fatal(err)
		}
		dec = json.NewDecoder(&ref)
		for i := 0; dec.More(); i++ {
			var p map[string]any
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if a, b := p["logits"], lines[i]["logits"]; !reflect.DeepEqual(a, b) {
				t.Errorf("clip %d: logits %v unlabelled, %v labelled", i, b, a)
			}
		}
	}
}
