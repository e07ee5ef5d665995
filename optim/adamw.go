package optim

import (
	"fmt"
	"math"
	"slices"
)

// AdamWConfig holds AdamW's hyper-parameters. The learning rate is not part
// of it: it is passed to every Step, normally from a Schedule.
type AdamWConfig struct {
	Beta1, Beta2 float64
	Eps          float64
	// WeightDecay is the decoupled decay of GroupDecay (and of any group
	// that Groups does not list).
	WeightDecay float64
	// GroupOf assigns parameters to groups; nil means DefaultGroups.
	GroupOf GroupFunc
	// Groups overrides per-group settings. Unlisted groups get LRScale 1 and
	// WeightDecay (GroupNoDecay: 0).
	Groups map[string]Group
}

// DefaultAdamWConfig returns torch.optim.AdamW's defaults (betas 0.9/0.999,
// eps 1e-8, weight decay 0.01) with DefaultGroups, i.e. no decay on biases,
// LayerNorm parameters and embeddings.
func DefaultAdamWConfig() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, GroupOf: DefaultGroups}
}

func (c AdamWConfig) validate() error {
	if !(c.Beta1 >= 0 && c.Beta1 < 1) {
		return fmt.Errorf("optim: AdamW beta1 %v not in [0, 1)", c.Beta1)
	}
	if !(c.Beta2 >= 0 && c.Beta2 < 1) {
		return fmt.Errorf("optim: AdamW beta2 %v not in [0, 1)", c.Beta2)
	}
	if !(c.Eps >= 0) || math.IsInf(c.Eps, 0) {
		return fmt.Errorf("optim: AdamW eps %v must be finite and >= 0", c.Eps)
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		return fmt.Errorf("optim: AdamW weight decay %v must be finite and >= 0", c.WeightDecay)
	}
	for name, g := range c.Groups {
		if !(g.LRScale >= 0) || math.IsInf(g.LRScale, 0) {
			return fmt.Errorf("optim: group %q: lr scale %v must be finite and >= 0", name, g.LRScale)
		}
		if !(g.WeightDecay >= 0) || math.IsInf(g.WeightDecay, 0) {
			return fmt.Errorf("optim: group %q: weight decay %v must be finite and >= 0", name, g.WeightDecay)
		}
	}
	return nil
}

// group resolves a group name to its settings.
func (c AdamWConfig) group(name string) Group {
	if g, ok := c.Groups[name]; ok {
		return g
	}
	if name == GroupNoDecay {
		return Group{LRScale: 1}
	}
	return Group{LRScale: 1, WeightDecay: c.WeightDecay}
}

// coef holds one parameter's float32 scalars for the current step, computed
// once per step the way torch casts its Python scalars.
type coef struct {
	decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep float32
}

// AdamW is torch.optim.AdamW (torch 1.13, amsgrad off, maximize off) over a
// fixed list of parameters, updating Param.Value in place from Param.Grad.
//
// Per element and step t it computes, in float32 like torch's CPU kernels:
//
//	p *= 1 - lr*wd
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g*g
//	p += (-(lr/(1-b1^t)) * m) / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// with lr and wd taken from the parameter's group.
type AdamW struct {
	cfg    AdamWConfig
	params []Param
	group  []string
	hp     []Group
	m, v   [][]float32
	coefs  []coef
	step   int
	pool   pool
}

// NewAdamW creates an optimizer with zero moments and step 0.
func NewAdamW(params []Param, cfg AdamWConfig) (*AdamW, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.GroupOf == nil {
		cfg.GroupOf = DefaultGroups
	}
	if err := checkParams(params); err != nil {
		return nil, err
	}
	o := &AdamW{
		cfg:    cfg,
		params: append([]Param(nil), params...),
		group:  make([]string, len(params)),
		hp:     make([]Group, len(params)),
		m:      make([][]float32, len(params)),
		v:      make([][]float32, len(params)),
		coefs:  make([]coef, len(params)),
	}
	for i, p := range params {
		o.params[i].Shape = append([]int(nil), p.Shape...)
		o.group[i] = cfg.GroupOf(p.Name, p.Shape)
		o.hp[i] = cfg.group(o.group[i])
		o.m[i] = make([]float32, len(p.Value))
		o.v[i] = make([]float32, len(p.Value))
	}
	o.pool.spans, o.pool.total = makeSpans(o.params)
	o.pool.fn = o.updateSpan
	return o, nil
}

// Bind points the optimizer at new backing slices for the same parameters
// (same names, order and shapes), for when the graph reallocates its value
// or gradient tensors. The moments are kept.
func (o *AdamW) Bind(params []Param) error {
	if len(params) != len(o.params) {
		return fmt.Errorf("optim: Bind: %d parameters, optimizer has %d", len(params), len(o.params))
	}
	for i, p := range params {
		if p.Name != o.params[i].Name || !slices.Equal(p.Shape, o.params[i].Shape) {
			return fmt.Errorf("optim: Bind: parameter %d is %s %v, optimizer has %s %v", i, p.Name, p.Shape, o.params[i].Name, o.params[i].Shape)
		}
		if err := p.check(); err != nil {
			return fmt.Errorf("optim: Bind: %w", err)
		}
	}
	for i, p := range params {
		o.params[i].Value, o.params[i].Grad = p.Value, p.Grad
	}
	return nil
}

// StepCount is the number of completed steps (torch's state "step").
func (o *AdamW) StepCount() int { return o.step }

// Params returns the parameters in optimizer order.
func (o *AdamW) Params() []Param { return o.params }

// GroupOf returns the group the named parameter was assigned to, or "" if
// the optimizer does not hold it.
func (o *AdamW) GroupOf(name string) string {
	for i, p := range o.params {
		if p.Name == name {
			return o.group[i]
		}
	}
	return ""
}

// Step applies one AdamW update with base learning rate lr (scaled per
// group) and increments the step count. It allocates nothing and runs on
// up to GOMAXPROCS goroutines.
func (o *AdamW) Step(lr float64) error {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("optim: AdamW step %d: learning rate %v must be finite and >= 0", o.step+1, lr)
	}
	o.step++
	t := float64(o.step)
	bc1 := 1 - math.Pow(o.cfg.Beta1, t)
	bc2 := 1 - math.Pow(o.cfg.Beta2, t)
	for i, g := range o.hp {
		glr := lr * g.LRScale
		o.coefs[i] = coef{
			decay:   float32(1 - glr*g.WeightDecay),
			b1:      float32(o.cfg.Beta1),
			omb1:    float32(1 - o.cfg.Beta1),
			b2:      float32(o.cfg.Beta2),
			omb2:    float32(1 - o.cfg.Beta2),
			bc2sqrt: float32(math.Sqrt(bc2)),
			eps:     float32(o.cfg.Eps),
			negStep: float32(-(glr / bc1)),
		}
	}
	o.pool.run()
	return nil
}

func (o *AdamW) updateSpan(_ int, s span) {
	p := o.params[s.param]
	adamwKernel(p.Value[s.lo:s.hi], p.Grad[s.lo:s.hi], o.m[s.param][s.lo:s.hi], o.v[s.param][s.lo:s.hi], &o.coefs[s.param])
}

// adamwKernel is the per-element update. It runs the vector kernel chosen
// by adamwImpl (AVX-512 or AVX2 on amd64) over a prefix of whole vectors and
// adamwKernelGo over the rest; both give bit-identical results.
func adamwKernel(p, g, m, v []float32, c *coef) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	k := adamwVector(p, g, m, v, c)
	adamwKernelGo(p[k:], g[k:], m[k:], v[k:], c)
}

// adamwKernelGo is the pure-Go per-element update and the reference for the
// vector kernels. The explicit float32 conversions force rounding after
// every operation (Go may otherwise fuse a*b+c), and the operation order is
// torch's: addcmul is (value*t1)*t2 and addcdiv is (value*t1)/t2. With this
// the golden step is reproduced bit for bit.
func adamwKernelGo(p, g, m, v []float32, c *coef) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep := c.decay, c.b1, c.omb1, c.b2, c.omb2, c.bc2sqrt, c.eps, c.negStep
	for i := range p {
		gi := g[i]
		mi := float32(m[i]*b1) + float32(omb1*gi)
		vi := float32(v[i]*b2) + float32(float32(omb2*gi)*gi)
		m[i], v[i] = mi, vi
		denom := float32(float32(math.Sqrt(float64(vi)))/bc2sqrt) + eps
		p[i] = float32(p[i]*decay) + float32(float32(negStep*mi)/denom)
	}
}
