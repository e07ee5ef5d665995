package layers

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

// builder threads the first error through a chain of graph constructions,
// so the model code reads like the paper instead of like error handling.
// Every method is a no-op returning nil once an error is recorded.
type builder struct {
	b   *graph.Binder
	cfg config.Config
	err error

	// dropSeed is the training program's dropout seed input (nil: no
	// dropout, as in evaluation); sites numbers the dropout sites in build
	// order, so each draws its own mask.
	dropSeed *G.Node
	sites    uint64
}

// dropout applies hidden_dropout_prob to x in training programs.
func (bd *builder) dropout(x *G.Node) *G.Node {
	if bd.err != nil || bd.dropSeed == nil || bd.cfg.HiddenDropoutProb == 0 {
		return x
	}
	bd.sites++
	return bd.ok(graph.Dropout(x, bd.dropSeed, bd.cfg.HiddenDropoutProb, bd.sites))
}

// attentionDropout is attention_probs_dropout_prob for the fused attention.
func (bd *builder) attentionDropout(o graph.AttentionOptions) graph.AttentionOptions {
	if bd.dropSeed != nil && bd.cfg.AttentionProbsDropoutProb != 0 {
		bd.sites++
		o.DropoutProb, o.DropoutSeed, o.DropoutSite = bd.cfg.AttentionProbsDropoutProb, bd.dropSeed, bd.sites
	}
	return o
}

func (bd *builder) fail(err error) *G.Node {
	if bd.err == nil && err != nil {
		bd.err = err
	}
	return nil
}

func (bd *builder) ok(n *G.Node, err error) *G.Node {
	if err != nil {
		return bd.fail(err)
	}
	return n
}

func (bd *builder) param(name string) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(bd.b.Param(name))
}

// linear applies the Linear module registered under name (name.weight, name.bias).
func (bd *builder) linear(x *G.Node, name string) *G.Node {
	w := bd.param(name + ".weight")
	var b *G.Node
	if bd.b.Store().Has(name + ".bias") {
		b = bd.param(name + ".bias")
	}
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Linear(x, w, b))
}

// layerNorm applies the LayerNorm module registered under name.
func (bd *builder) layerNorm(x *G.Node, name string) *G.Node {
	g, b := bd.param(name+".weight"), bd.param(name+".bias")
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.LayerNorm(x, g, b, bd.cfg.LayerNormEps))
}

// gelu is the exact erf GELU: the classifier head's nn.GELU(), whatever hidden_act says.
func (bd *builder) gelu(x *G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.GELU(x))
}

// hiddenAct is the encoder and decoder MLP activation, ACT2FN[config.hidden_act] in HF.
func (bd *builder) hiddenAct(x *G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Activation(x, bd.cfg.HiddenAct))
}

func (bd *builder) add(a, b *G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(G.Add(a, b))
}

func (bd *builder) addRows(x *G.Node, table string, rows []int) *G.Node {
	t := bd.param(table)
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.AddRows(x, t, rows))
}

func (bd *builder) reshape(x *G.Node, shape ...int) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(G.Reshape(x, shape))
}

func (bd *builder) errorf(format string, args ...interface{}) *G.Node {
	return bd.fail(fmt.Errorf(format, args...))
}

// registry registers parameters in HF state_dict order with their initialiser.
type registry struct {
	s   *graph.Store
	std float64
	err error
}

func (r *registry) add(name string, init graph.Init, shape ...int) {
	if r.err == nil {
		r.err = r.s.Add(name, shape, init)
	}
}

// linear registers a torch Linear (weight (out, in...), bias (out)).
func (r *registry) linear(name string, bias bool, out int, in ...int) {
	r.add(name+".weight", graph.Init{Kind: graph.Normal, Std: r.std}, append([]int{out}, in...)...)
	if bias {
		r.add(name+".bias", graph.Init{Kind: graph.Zeros}, out)
	}
}

func (r *registry) layerNorm(name string, dim int) {
	r.add(name+".weight", graph.Init{Kind: graph.Ones}, dim)
	r.add(name+".bias", graph.Init{Kind: graph.Zeros}, dim)
}

func (r *registry) embedding(name string, shape ...int) {
	r.add(name, graph.Init{Kind: graph.Embedding}, shape...)
}
