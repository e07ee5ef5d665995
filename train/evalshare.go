package train

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"

	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train/dist"
	"gorgonia.org/tensor"
)

// sharedResult is one forward pass's outputs as they travel between ranks.
type sharedResult struct {
	Err     string
	Outputs map[string]sharedTensor
}

type sharedTensor struct {
	Shape []int
	Data  []float64
}

// shareResult gives every rank the outputs (or the error) of the pass that
// rank owner ran; the other ranks pass res nil.
func shareResult(c dist.Comm, owner int, res *layers.Result, runErr error) (*layers.Result, error) {
	var payload []byte
	if c.Rank() == owner {
		msg := sharedResult{Outputs: map[string]sharedTensor{}}
		if runErr != nil {
			msg.Err = runErr.Error()
		} else {
			for name, t := range res.Outputs {
				msg.Outputs[name] = sharedTensor{Shape: t.Shape().Clone(), Data: graph.Float64s(t)}
			}
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(msg); err != nil {
			return nil, fmt.Errorf("train: eval: encoding outputs: %w", err)
		}
		payload = buf.Bytes()
	}
	got, err := c.BroadcastBytes(payload, owner)
	if err != nil {
		return nil, fmt.Errorf("train: eval: sharing outputs of rank %d: %w", owner, err)
	}
	if c.Rank() == owner {
		return res, runErr
	}
	var msg sharedResult
	if err := gob.NewDecoder(bytes.NewReader(got)).Decode(&msg); err != nil {
		return nil, fmt.Errorf("train: eval: outputs of rank %d: %w", owner, err)
	}
	if msg.Err != "" {
		return nil, &dist.RankError{Rank: owner, Msg: msg.Err, Err: errors.New(msg.Err)}
	}
	out := &layers.Result{Outputs: map[string]*tensor.Dense{}}
	for name, t := range msg.Outputs {
		out.Outputs[name] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.Data))
	}
	return out, nil
}
