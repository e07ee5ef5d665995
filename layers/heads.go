package layers

import (
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

func registerMatchingHead(r *registry, c config.Config) {
	r.linear("matching_head.pooler.dense", true, c.HiddenSize, c.HiddenSize)
	r.linear("matching_head.fc", true, 1, c.HiddenSize)
}

func registerClassifier(r *registry, c config.Config) {
	if c.ClassifierPooler {
		r.linear("classifier.pooler.dense", true, c.HiddenSize, c.HiddenSize)
	}
	r.linear("classifier.0", true, 2*c.HiddenSize, c.HiddenSize)
	r.layerNorm("classifier.1", 2*c.HiddenSize)
	r.linear("classifier.3", true, c.NumLabels, 2*c.HiddenSize)
}

// matchingHead is TvltMatchingHead: tanh pooler on the CLS state, then one
// logit (B, 1): does this audio belong to this video?
func (bd *builder) matchingHead(last *G.Node) *G.Node {
	cls := bd.cls(last)
	if bd.err != nil {
		return nil
	}
	pooled := bd.linear(cls, "matching_head.pooler.dense")
	if bd.err != nil {
		return nil
	}
	pooled = bd.ok(G.Tanh(pooled))
	logit := bd.linear(pooled, "matching_head.fc")
	return bd.reshape(logit, last.Shape()[0], 1)
}

// classifier is TvltForAudioVisualClassification's head on the CLS state:
// Linear(D→2D) → LayerNorm → GELU → Linear(2D→num_labels); no pooler, as in
// HF, unless config.ClassifierPooler asks for the original TVLT's tanh pooler.
func (bd *builder) classifier(last *G.Node) *G.Node {
	cls := bd.cls(last)
	if bd.cfg.ClassifierPooler {
		cls = bd.linear(cls, "classifier.pooler.dense")
		if bd.err != nil {
			return nil
		}
		cls = bd.ok(G.Tanh(cls))
	}
	h := bd.linear(cls, "classifier.0")
	h = bd.classifierNorm(h)
	h = bd.gelu(h)
	logits := bd.linear(h, "classifier.3")
	if bd.err != nil {
		return nil
	}
	return bd.reshape(logits, last.Shape()[0], bd.cfg.NumLabels)
}

// classifierNorm is classifier.1, at classifier_layer_norm_eps when set.
func (bd *builder) classifierNorm(x *G.Node) *G.Node {
	eps := bd.cfg.ClassifierLayerNormEps
	if eps <= 0 {
		return bd.layerNorm(x, "classifier.1")
	}
	g, b := bd.param("classifier.1.weight"), bd.param("classifier.1.bias")
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.LayerNorm(x, g, b, eps))
}
