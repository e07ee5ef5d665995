package layers

import (
	"fmt"
	"strconv"

	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

// readEncoder reads one encoder pass's outputs, names prefixed with tag:
// with lasts, last_hidden_state and its pixel and audio parts and the
// hidden states; hidden_states/<i> also with OutputHiddenStates (or
// Inspect); attentions/<l> with OutputAttentions; and attentions/last_cls,
// the last layer's CLS attention averaged over heads, in forward-only
// inspection programs. A packed pass has hidden states only when asked for.
func (p *Program) readEncoder(tag string, in encoderInputs, out encoderOutputs, lasts bool) error {
	if lasts {
		p.read(tag+"last_hidden_state", out.last)
		p.read(tag+"last_pixel_hidden_state", out.pixel)
		p.read(tag+"last_audio_hidden_state", out.audio)
	}
	if out.hidden == nil {
		return nil
	}
	if lasts || p.opts.Inspect || p.opts.OutputHiddenStates {
		for i, h := range out.hidden {
			p.read(tag+"hidden_states/"+strconv.Itoa(i), h)
		}
	}
	c := p.m.Config
	if p.opts.OutputAttentions {
		for l := 0; l < c.NumHiddenLayers; l++ {
			probs, err := p.layerProbs(l, out.hidden[l], in.keyBias)
			if err != nil {
				return err
			}
			p.read(tag+"attentions/"+strconv.Itoa(l), probs)
		}
	}
	if !p.opts.Inspect || p.opts.Train || tag != "" || c.NumHiddenLayers < 1 {
		return nil
	}
	probs, err := p.layerProbs(c.NumHiddenLayers-1, out.hidden[c.NumHiddenLayers-1], in.keyBias)
	if err != nil {
		return err
	}
	cls, err := G.Slice(probs, nil, nil, G.S(0)) // (B, heads, S): the CLS query row
	if err != nil {
		return fmt.Errorf("layers: attentions/last_cls: %w", err)
	}
	mean, err := G.Mean(cls, 1)
	if err != nil {
		return fmt.Errorf("layers: attentions/last_cls: %w", err)
	}
	p.read(tag+"attentions/last_cls", mean)
	return nil
}

// layerProbs is encoder layer l's attention probabilities (B, heads, S, S)
// for its input x. The layer's q and k are projected a second time rather
// than threaded out of the fused attention, so graphs that do not ask for
// attentions stay untouched.
func (p *Program) layerProbs(l int, x, keyBias *G.Node) (*G.Node, error) {
	bd, c := p.bd, p.m.Config
	lp := p.m.Kind.EncoderPrefix() + "encoder.layer." + itoa(l) + "."
	a := bd.layerNorm(x, lp+"layernorm_before")
	q := bd.linear(a, lp+"attention.attention.query")
	k := bd.linear(a, lp+"attention.attention.key")
	if bd.err != nil {
		return nil, bd.err
	}
	probs, err := graph.AttentionProbs(q, k, keyBias, c.NumAttentionHeads)
	if err != nil {
		return nil, fmt.Errorf("layers: attentions/%d: %w", l, err)
	}
	return probs, nil
}
