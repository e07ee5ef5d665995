package train

import (
	"context"
	"fmt"
	"maps"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// softTargets builds the float (B, num_labels) targets of the multilabel
// loss type (each clip's list of num_labels values in [0, 1]) and of the
// vqa loss type (each clip's [answer id, score] pairs scattered into a
// num_labels vector, zeros elsewhere).
func softTargets(b *data.Batch, c config.Config) (*tensor.Dense, error) {
	B := b.Size()
	y := make([]float32, 0, B*c.NumLabels)
	for i, l := range b.Labels {
		row, err := targetRow(l, c)
		if err != nil {
			return nil, fmt.Errorf("train: clip %s: %w", b.IDs[i], err)
		}
		for _, v := range row {
			y = append(y, float32(v))
		}
	}
	return dense(y, B, c.NumLabels), nil
}

// targetRow is one clip's num_labels targets.
func targetRow(l data.Label, c config.Config) ([]float64, error) {
	row := make([]float64, c.NumLabels)
	if c.LossType == config.LossVQA {
		if l.Kind != data.LabelAnswers {
			return nil, fmt.Errorf("vqa needs a list of [answer id, score] pairs as label, got a %s label", describeLabel(l))
		}
		for _, a := range l.Answers {
			if a.ID < 0 || a.ID >= c.NumLabels {
				return nil, fmt.Errorf("answer %d is outside the vocabulary [0, num_labels=%d); check --answers", a.ID, c.NumLabels)
			}
			if !(a.Score >= 0 && a.Score <= 1) {
				return nil, fmt.Errorf("answer %d has score %v, outside [0, 1]", a.ID, a.Score)
			}
			row[a.ID] = a.Score
		}
		return row, nil
	}
	if l.Kind != data.LabelMulti || len(l.Multi) != c.NumLabels {
		return nil, fmt.Errorf("multilabel needs a list of %d numbers in [0, 1] as label, got a %s label", c.NumLabels, describeLabel(l))
	}
	for j, v := range l.Multi {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("multilabel label[%d] = %v is outside [0, 1]", j, v)
		}
		row[j] = v
	}
	return row, nil
}

// describeLabel names a label's kind for errors, with a list's length.
func describeLabel(l data.Label) string {
	if l.Kind == data.LabelMulti {
		return fmt.Sprintf("%s (%d values)", l.Kind, len(l.Multi))
	}
	return l.Kind.String()
}

// soft evaluates the multilabel and vqa tasks: the mean loss, and
// MultilabelMetrics or VQAScore over the split.
func (e *evaluator) soft(ctx context.Context, clips []data.Clip, keep bool) (map[string]float64, []Prediction, error) {
	c := e.m.Config
	k := c.NumLabels
	var lossSum float64
	var n int
	var logits, targets [][]float64
	var preds []Prediction
	err := e.forEach(ctx, clips, false, func(b *data.Batch, res *layers.Result) error {
		B := b.Size()
		lossSum += res.Scalar(MetricLoss) * float64(B)
		n += B
		out := res.Outputs[outLogits].Data().([]float64)
		for i := 0; i < B; i++ {
			row := append([]float64(nil), out[i*k:(i+1)*k]...)
			if !e.unlabeled {
				t, err := targetRow(b.Labels[i], c)
				if err != nil {
					return fmt.Errorf("train: clip %s: %w", b.IDs[i], err)
				}
				logits, targets = append(logits, row), append(targets, t)
			}
			if !keep {
				continue
			}
			p := Prediction{ID: b.IDs[i], Logits: row, Target: labelOf(b.Labels[i])}
			if c.LossType == config.LossVQA {
				p.Label = answerName(c, argmax(row))
			} else {
				on := make([]int, k)
				for j, x := range row {
					on[j] = b0(x > 0)
				}
				p.Label = on
			}
			preds = append(preds, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if e.unlabeled {
		return map[string]float64{}, preds, nil
	}
	met := map[string]float64{MetricLoss: lossSum / float64(n)}
	if c.LossType == config.LossVQA {
		met[MetricVQAScore], err = VQAScore(logits, targets)
	} else {
		var m map[string]float64
		m, err = MultilabelMetrics(logits, targets, k)
		maps.Copy(met, m)
	}
	if err != nil {
		return nil, nil, err
	}
	return met, preds, nil
}

// answerName is answer i's string from the config's id2label (the answer
// vocabulary of a vqa model), or its index when the config has none.
func answerName(c config.Config, i int) any {
	if s, ok := c.ID2Label[i]; ok && len(c.ID2Label) == c.NumLabels {
		return s
	}
	return i
}
