package layers

import (
	"fmt"
	"math"

	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options choose what a compiled program computes.
type Options struct {
	// Train adds the backward pass: Run then fills Grads for every parameter
	// the graph uses. It also switches on the config's dropout, with masks
	// drawn from Batch.DropoutSeed.
	Train bool
	// Inspect also returns intermediates (hidden states, decoder inputs and
	// outputs, MAE targets and label masks) under the golden files' key names;
	// without Train it adds attentions/last_cls (B, S), the last encoder
	// layer's CLS attention averaged over heads, and lets a pretraining model
	// run a plain batch (no matching or MAE inputs) through its encoder.
	Inspect bool
	// OutputHiddenStates reads hidden_states/<i> (B, S, D): the embedding
	// output, then every encoder layer's output (before the final LayerNorm),
	// as the reference's output_hidden_states; TvltModel always has them.
	OutputHiddenStates bool
	// OutputAttentions reads attentions/<l> (B, heads, S, S): every encoder
	// layer's attention probabilities, as the reference's output_attentions.
	OutputAttentions bool
	// LossWeights weight TvltForPreTraining's loss terms in its total
	// "loss"; nil = 1 each (the reference's plain sum).
	LossWeights *LossWeights
	// LossScales multiplies each task loss in the total (and so in the
	// gradients) by a factor fed with every batch (Batch.LossScales), for
	// data-parallel training: a rank's loss normalised by its own count
	// times count/global count is its share of the global batch's loss.
	// The per-task outputs stay unscaled; the total "loss" is the scaled
	// sum (a rank's share: the ranks' totals add up to the global loss).
	LossScales bool
}

// LossWeights multiply TvltForPreTraining's loss terms in the total loss,
// as the original TVLT's loss_names weights do: loss = PixelMAE ·
// pixel_mae_loss + AudioMAE · audio_mae_loss + Matching · matching_loss.
// The per-task outputs stay unweighted. A weight of 1 leaves its term's
// graph as it is (bit-identical to no weights); 0 keeps the term's value
// readable with no gradient from it.
type LossWeights struct {
	PixelMAE, AudioMAE, Matching float64
}

// DefaultLossWeights are 1 each.
func DefaultLossWeights() LossWeights { return LossWeights{PixelMAE: 1, AudioMAE: 1, Matching: 1} }

// String writes the weights as the CLI takes them: "pixel=1,audio=1,matching=0.5".
func (w LossWeights) String() string {
	return fmt.Sprintf("pixel=%v,audio=%v,matching=%v", w.PixelMAE, w.AudioMAE, w.Matching)
}

// Validate requires finite, non-negative weights.
func (w LossWeights) Validate() error {
	for _, x := range []struct {
		name string
		v    float64
	}{{"pixel", w.PixelMAE}, {"audio", w.AudioMAE}, {"matching", w.Matching}} {
		if !(x.v >= 0) || math.IsInf(x.v, 0) {
			return fmt.Errorf("layers: loss weight %s=%v must be finite and >= 0", x.name, x.v)
		}
	}
	return nil
}

// lossWeights are the program's weights (Options.LossWeights or 1 each).
func (p *Program) lossWeights() LossWeights {
	if p.opts.LossWeights != nil {
		return *p.opts.LossWeights
	}
	return DefaultLossWeights()
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
	grads  G.Nodes // with Train: the gradient node of each parameter
	failed bool    // the last run did not finish: its registers are suspect

	// while compiling: the graph builder and the batch's sizes
	bd   *builder
	dims dims
}

// dims are a batch's sizes: B, frames T, audio time patches Ta, and the
// token counts Lp = T·Np and La = Ta·F.
type dims struct {
	b, frames, timePatches, lp, la int
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
	}
	if b.PixelIDsShuffle != nil && (m.Kind == Base || m.Kind == Pretraining && c.TaskMAE) {
		sig += fmt.Sprintf(" mae%d,%d", b.PixelLenKeep, b.AudioLenKeep)
	}
	if b.Labels != nil {
		sig += " labels"
	}
	return sig, nil
}

// dimsOf reads the sizes of a batch that passed Signature's checks.
func (m *Model) dimsOf(b *Batch) dims {
	c := m.Config
	bs, t, _ := checkPixels(c, "pixel_values", b.PixelValues)
	_, ta, _ := checkAudio(c, b.AudioValues)
	return dims{b: bs, frames: t, timePatches: ta, lp: c.PixelTokens(t), la: c.AudioTokens(ta)}
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
	p.bd = &builder{b: p.binder, cfg: m.Config}
	if opts.Train && (m.Config.HiddenDropoutProb != 0 || m.Config.AttentionProbsDropoutProb != 0) {
		p.bd.dropSeed = p.placeholder("dropout_seed", tensor.Int64, 1)
	}
	p.dims = m.dimsOf(b)
	if err := p.lossWeights().Validate(); err != nil {
		return nil, err
	}
	if err := p.build(b); err != nil {
		return nil, err
	}
	p.bd = nil
	p.params = p.binder.Nodes()
	if opts.Train {
		if p.loss == nil {
			return nil, fmt.Errorf("layers: %s: training needs a loss (labels, matching inputs or MAE ids)", m.Kind)
		}
		grads, err := G.Grad(p.loss, p.params...)
		if err != nil {
			return nil, fmt.Errorf("layers: building gradients: %w", err)
		}
		// The gradients are read straight from their nodes (Grads): binding
		// dual values would keep a second copy of every gradient and add
		// each backward pass into it.
		p.grads = grads
		p.vm = G.NewTapeMachine(g)
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

// scaled multiplies a task loss (named as its output) by its runtime
// factor "loss_scale/<name>" when the program has Options.LossScales.
func (p *Program) scaled(name string, loss *G.Node) (*G.Node, error) {
	if !p.opts.LossScales || loss == nil {
		return loss, nil
	}
	s := p.placeholder(lossScalePrefix+name, loss.Dtype(), 1)
	m, err := G.Mul(loss, s)
	if err != nil {
		return nil, fmt.Errorf("layers: scaling %s: %w", name, err)
	}
	out, err := G.Sum(m)
	if err != nil {
		return nil, fmt.Errorf("layers: scaling %s: %w", name, err)
	}
	return out, nil
}

// lossScalePrefix names the LossScales placeholders.
const lossScalePrefix = "loss_scale/"

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
