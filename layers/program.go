package layers

import (
	"fmt"
	"strconv"

	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/losses"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options choose what a compiled program computes.
type Options struct {
	// Train adds the backward pass: Run then fills Grads for every parameter
	// the graph uses.
	Train bool
	// Inspect also returns intermediates (hidden states, decoder inputs and
	// outputs, MAE targets and label masks) under the golden files' key names;
	// without Train it adds attentions/last_cls (B, S), the last encoder
	// layer's CLS attention averaged over heads, and lets a pretraining model
	// run a plain batch (no matching or MAE inputs) through its encoder.
	Inspect bool
}

// Program is a model compiled for one input signature (batch size, frame
// count, spectrogram length, which masks and tasks are present). Gorgonia
// graphs are static, so a trainer keeps one Program per signature and reuses
// it every step; parameters are shared with the Model's store.
type Program struct {
	m      *Model
	sig    string
	opts   Options
	g      *G.ExprGraph
	vm     G.VM
	binder *graph.Binder
	inputs map[string]*G.Node
	reads  map[string]*G.Value
	loss   *G.Node
	params G.Nodes
}

// Result holds one run's outputs, as float64 copies keyed by the reference's
// output names ("loss", "logits", "matching_logits", "pixel_logits", ...).
type Result struct {
	Outputs map[string]*tensor.Dense
}

// Scalar returns a scalar output (e.g. "loss"), or NaN if absent.
func (r *Result) Scalar(name string) float64 {
	t, ok := r.Outputs[name]
	if !ok {
		return nanValue
	}
	return graph.Float64s(t)[0]
}

var nanValue = func() float64 { var z float64; return z / z }()

// Signature identifies the graph shape a batch needs; batches with equal
// signatures share a Program.
func (m *Model) Signature(b *Batch) (string, error) {
	c := m.Config
	bs, t, err := checkPixels(c, "pixel_values", b.PixelValues)
	if err != nil {
		return "", err
	}
	ba, ta, err := checkAudio(c, b.AudioValues)
	if err != nil {
		return "", err
	}
	if ba != bs {
		return "", fmt.Errorf("layers: pixel_values batch %d != audio_values batch %d", bs, ba)
	}
	sig := fmt.Sprintf("B%d T%d Ta%d pm%v am%v", bs, t, ta, b.PixelMask != nil, b.AudioMask != nil)
	if m.Kind == Pretraining {
		if c.TaskMatching && b.PixelValuesMixed != nil {
			_, tm, err := checkPixels(c, "pixel_values_mixed", b.PixelValuesMixed)
			if err != nil {
				return "", err
			}
			sig += fmt.Sprintf(" match T%d mm%v", tm, b.PixelMaskMixed != nil)
		}
		if c.TaskMAE && b.PixelIDsShuffle != nil {
			sig += fmt.Sprintf(" mae%d,%d", b.PixelLenKeep, b.AudioLenKeep)
		}
	}
	if b.Labels != nil {
		sig += " labels"
	}
	return sig, nil
}

// Compile builds the graph for batches shaped like b.
func (m *Model) Compile(b *Batch, opts Options) (p *Program, err error) {
	sig, err := m.Signature(b)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Gorgonia panics on some malformed graphs; keep that inside the package.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("layers: compiling %s: %v", sig, r)
		}
	}()
	g := G.NewGraph()
	p = &Program{m: m, sig: sig, opts: opts, g: g, binder: m.Params.Bind(g),
		inputs: map[string]*G.Node{}, reads: map[string]*G.Value{}}
	bd := &builder{b: p.binder, cfg: m.Config}
	if err := p.build(bd, b); err != nil {
		return nil, err
	}
	p.params = p.binder.Nodes()
	if opts.Train {
		if p.loss == nil {
			return nil, fmt.Errorf("layers: %s: training needs a loss (labels, matching inputs or MAE ids)", m.Kind)
		}
		if _, err := G.Grad(p.loss, p.params...); err != nil {
			return nil, fmt.Errorf("layers: building gradients: %w", err)
		}
		p.vm = G.NewTapeMachine(g, G.BindDualValues(p.params...))
	} else {
		p.vm = G.NewTapeMachine(g)
	}
	return p, nil
}

// Close releases the program's machine.
func (p *Program) Close() error { return p.vm.Close() }

// placeholder declares a graph input that Run feeds.
func (p *Program) placeholder(name string, dt tensor.Dtype, shape ...int) *G.Node {
	n := G.NewTensor(p.g, dt, len(shape), G.WithShape(shape...), G.WithName(name))
	p.inputs[name] = n
	return n
}

// read records a node as an output.
func (p *Program) read(name string, n *G.Node) {
	if n == nil {
		return
	}
	v := new(G.Value)
	G.Read(n, v)
	p.reads[name] = v
}

func (p *Program) inspect(name string, n *G.Node) {
	if p.opts.Inspect {
		p.read(name, n)
	}
}

func (p *Program) build(bd *builder, b *Batch) error {
	c := p.m.Config
	dt := p.m.Params.Dtype()
	prefix := p.m.EncoderPrefix()
	bs, t, _ := checkPixels(c, "pixel_values", b.PixelValues)
	_, ta, _ := checkAudio(c, b.AudioValues)
	np, f := c.PatchesPerFrame(), c.FreqPatches()
	lp, la := t*np, ta*f
	masked := b.PixelMask != nil && b.AudioMask != nil

	encoderIn := func(tag string, frames int, lenKeepP, lenKeepA int) encoderInputs {
		in := encoderInputs{
			pixels: p.placeholder(tag+"pixels", dt, bs, frames*np, c.PixelPatchDim()),
			audio:  p.placeholder(tag+"audio", dt, bs, la, c.AudioPatchDim()),
		}
		kp, ka := frames*np, la
		if lenKeepP > 0 {
			in.pixelKeep = p.placeholder(tag+"pixel_keep", tensor.Int64, bs, lenKeepP)
			in.audioKeep = p.placeholder(tag+"audio_keep", tensor.Int64, bs, lenKeepA)
			kp, ka = lenKeepP, lenKeepA
		}
		if masked {
			in.keyBias = p.placeholder(tag+"key_bias", dt, bs, 1+kp+ka)
		}
		return in
	}

	// plain runs the encoder without MAE masking on the batch itself and
	// reads TvltModel's outputs (always for Base, else when inspecting).
	plain := func() (encoderOutputs, error) {
		if err := checkMask("pixel_mask", b.PixelMask, bs, lp); err != nil {
			return encoderOutputs{}, err
		}
		if err := checkMask("audio_mask", b.AudioMask, bs, la); err != nil {
			return encoderOutputs{}, err
		}
		in := encoderIn("", t, 0, 0)
		out := bd.encode(prefix, in)
		if bd.err != nil {
			return out, bd.err
		}
		if p.m.Kind == Base || p.opts.Inspect {
			p.read("last_hidden_state", out.last)
			p.read("last_pixel_hidden_state", out.pixel)
			p.read("last_audio_hidden_state", out.audio)
			for i, h := range out.hidden {
				p.read("hidden_states/"+strconv.Itoa(i), h)
			}
		}
		return out, p.lastCLSAttention(bd, prefix, out, in.keyBias)
	}

	var terms []*G.Node
	switch p.m.Kind {
	case Base, Classification:
		out, err := plain()
		if err != nil {
			return err
		}
		if p.m.Kind == Classification {
			logits := bd.classifier(out.last)
			if bd.err != nil {
				return bd.err
			}
			p.read("logits", logits)
			if b.Labels != nil {
				loss, err := p.fineTuneLoss(logits, b.Labels, bs)
				if err != nil {
					return err
				}
				terms = append(terms, loss)
			}
		}
	case Pretraining:
		if c.TaskMatching && b.PixelValuesMixed != nil {
			_, tm, _ := checkPixels(c, "pixel_values_mixed", b.PixelValuesMixed)
			if err := checkMask("pixel_mask_mixed", b.PixelMaskMixed, bs, tm*np); err != nil {
				return err
			}
			if b.MatchingLabels == nil {
				return fmt.Errorf("layers: matching needs matching_labels (B, 1)")
			}
			if s := b.MatchingLabels.Shape(); s.Dims() != 2 || s[0] != bs || s[1] != 1 {
				return fmt.Errorf("layers: matching_labels has shape %v, want (%d, 1)", s, bs)
			}
			savedMasked := masked
			masked = b.PixelMaskMixed != nil && b.AudioMask != nil
			out := bd.encode(prefix, encoderIn("matching_", tm, 0, 0))
			masked = savedMasked
			logits := bd.matchingHead(out.last)
			labels := p.placeholder("matching_labels", dt, bs, 1)
			if bd.err != nil {
				return bd.err
			}
			loss, err := losses.BCEWithLogits(logits, labels)
			if err != nil {
				return err
			}
			p.inspect("matching_last_hidden_state", out.last)
			p.read("matching_logits", logits)
			p.read("matching_loss", loss)
			terms = append(terms, loss)
		}
		if c.TaskMAE && b.PixelIDsShuffle != nil {
			if err := checkMask("pixel_mask", b.PixelMask, bs, lp); err != nil {
				return err
			}
			if err := checkMask("audio_mask", b.AudioMask, bs, la); err != nil {
				return err
			}
			out := bd.encode(prefix, encoderIn("mae_", t, b.PixelLenKeep, b.AudioLenKeep))
			pix := bd.decodePixels(out.pixel, p.placeholder("pixel_ids_restore", tensor.Int64, bs, lp))
			aud := bd.decodeAudio(out.audio, p.placeholder("audio_ids_restore", tensor.Int64, bs, la))
			if bd.err != nil {
				return bd.err
			}
			pixTarget := p.placeholder("pixel_patch_targets", dt, bs, lp, c.PixelMAEDim())
			audTarget := p.placeholder("audio_patch_targets", dt, bs, la, c.AudioPatchDim())
			pixLoss, err := losses.MAE(pix.logits, pixTarget, p.placeholder("pixel_label_masks", dt, bs, lp))
			if err != nil {
				return err
			}
			audLoss, err := losses.MAE(aud.logits, audTarget, p.placeholder("audio_label_masks", dt, bs, la))
			if err != nil {
				return err
			}
			p.inspect("pixel_patch_targets", pixTarget)
			p.inspect("audio_patch_targets", audTarget)
			p.inspect("mae_last_hidden_state", out.last)
			p.inspect("pixel_decoder_input", pix.input)
			p.inspect("pixel_decoder_output", pix.output)
			p.inspect("audio_decoder_input", aud.input)
			p.inspect("audio_decoder_output", aud.output)
			p.read("pixel_logits", pix.logits)
			p.read("audio_logits", aud.logits)
			p.read("pixel_mae_loss", pixLoss)
			p.read("audio_mae_loss", audLoss)
			mae, err := losses.Sum(pixLoss, audLoss)
			if err != nil {
				return err
			}
			terms = append(terms, mae)
		}
		if len(terms) == 0 && p.opts.Inspect && !p.opts.Train {
			// A plain batch on a pretraining model: look at its encoder only.
			_, err := plain()
			return err
		}
		if len(terms) == 0 {
			return fmt.Errorf("layers: pretraining batch has neither matching inputs (pixel_values_mixed) nor MAE ids (ids_shuffle) for the enabled tasks")
		}
	}
	if len(terms) > 0 {
		loss, err := losses.Sum(terms...)
		if err != nil {
			return err
		}
		p.loss = loss
		p.read("loss", loss)
	}
	return nil
}

// lastCLSAttention reads attentions/last_cls (B, S): the CLS query's
// attention probabilities in the last encoder layer, averaged over heads,
// for inspection programs only. The layer's q and k are projected a second
// time from its input (hidden_states/L-1) rather than threaded out of the
// block, so training graphs stay untouched.
func (p *Program) lastCLSAttention(bd *builder, prefix string, out encoderOutputs, keyBias *G.Node) error {
	c := p.m.Config
	if !p.opts.Inspect || p.opts.Train || c.NumHiddenLayers < 1 {
		return nil
	}
	lp := prefix + "encoder.layer." + itoa(c.NumHiddenLayers-1) + "."
	a := bd.layerNorm(out.hidden[c.NumHiddenLayers-1], lp+"layernorm_before")
	q := bd.linear(a, lp+"attention.attention.query")
	k := bd.linear(a, lp+"attention.attention.key")
	if bd.err != nil {
		return bd.err
	}
	probs, err := graph.AttentionProbs(q, k, keyBias, c.NumAttentionHeads)
	if err != nil {
		return fmt.Errorf("layers: attentions/last_cls: %w", err)
	}
	cls, err := G.Slice(probs, nil, nil, G.S(0)) // (B, heads, S): the CLS query row
	if err != nil {
		return fmt.Errorf("layers: attentions/last_cls: %w", err)
	}
	mean, err := G.Mean(cls, 1)
	if err != nil {
		return fmt.Errorf("layers: attentions/last_cls: %w", err)
	}
	p.read("attentions/last_cls", mean)
	return nil
}

func (p *Program) fineTuneLoss(logits *G.Node, labels *tensor.Dense, bs int) (*G.Node, error) {
	c := p.m.Config
	if c.LossType == "regression" {
		if s := labels.Shape(); s.Dims() != 2 || s[0] != bs || s[1] != c.NumLabels {
			return nil, fmt.Errorf("layers: regression labels have shape %v, want (%d, %d)", s, bs, c.NumLabels)
		}
		y := p.placeholder("labels", p.m.Params.Dtype(), bs, c.NumLabels)
		return losses.MSE(logits, y)
	}
	y := p.placeholder("labels", tensor.Int64, bs)
	return losses.CrossEntropy(logits, y)
}
