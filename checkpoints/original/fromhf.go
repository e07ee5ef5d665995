package original

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// originalNames lists the original TVLT module's tensors for an HF config
// and class: the inverse of lookup's domain.
func originalNames(cfg config.Config, kind layers.Kind) []string {
	var out []string
	for n, r := range topLevel {
		switch {
		case r.part == partEncoder && strings.HasPrefix(n, "norm.") && cfg.UseMeanPooling:
		case r.part == partEncoder,
			r.part == partDecoder && kind == layers.Pretraining && cfg.TaskMAE,
			r.part == partMatching && kind == layers.Pretraining && cfg.TaskMatching:
			out = append(out, n)
		}
	}
	out = append(out, blockTensors("blocks.", cfg.NumHiddenLayers, cfg.QKVBias)...)
	if kind == layers.Pretraining && cfg.TaskMAE {
		out = append(out, blockTensors("decoder_blocks.", cfg.DecoderNumHiddenLayers, cfg.QKVBias)...)
	}
	if kind == layers.Classification {
		module := classifierModule
		if cfg.LossType == config.LossVQA {
			module = vqaClassifierModule
		}
		for n := range classifierNames {
			out = append(out, module+"."+n)
		}
	}
	sort.Strings(out)
	return out
}

func blockTensors(prefix string, n int, bias bool) []string {
	var out []string
	for i := 0; i < n; i++ {
		p := prefix + strconv.Itoa(i) + "."
		for inner := range blockNames {
			out = append(out, p+inner)
		}
		out = append(out, p+"attn.qkv.weight")
		if bias {
			out = append(out, p+"attn.qkv.bias")
		}
	}
	return out
}

// originalOf maps each HF name of the class to its original tensor.
func originalOf(cfg config.Config, kind layers.Kind) map[string]string {
	back := map[string]string{}
	prefix := kind.EncoderPrefix()
	for _, n := range originalNames(cfg, kind) {
		r, _ := lookup(n)
		for _, h := range r.hf {
			if r.part == partEncoder {
				h = prefix + h
			}
			back[h] = n
		}
	}
	return back
}

// FromHF is Convert's inverse: an HF state dict of cfg's class (its kind
// read from the names) as the original TVLT module's state dict — fused
// qkv, temporal_embed padded with zero rows to MaxFrames and pos_embed_a to
// MaxAudioPatches as the original allocates them, the classifier as
// Sequential(Pooler, Linear, LayerNorm, GELU, Linear) under "classifier"
// (or "vqa_classifier" for loss_type vqa). Names carry no Lightning
// prefix; a Lightning checkpoint adds LightningPrefix. A classifier
// without config.ClassifierPooler has no original form and is an error.
func FromHF(cfg config.Config, tensors map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	kind := hfKind(tensors)
	if kind == layers.Classification && !cfg.ClassifierPooler {
		return nil, fmt.Errorf("original: the original classifier starts with a tanh pooler (classifier.pooler.dense) that this %s config lacks (classifier_pooler)", kind)
	}
	expected, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		return nil, fmt.Errorf("original: %w", err)
	}
	got := make(map[string][]int, len(tensors))
	for n, t := range tensors {
		got[n] = shapeOf(t)
	}
	if rep := checkpoints.MatchShapes(expected, got); len(rep.Missing)+len(rep.Unexpected)+len(rep.Mismatched) > 0 {
		var errs []string
		for _, n := range rep.Missing {
			errs = append(errs, fmt.Sprintf("missing %s %v", n, expected[n]))
		}
		for _, n := range rep.Unexpected {
			errs = append(errs, fmt.Sprintf("unexpected %s %v", n, got[n]))
		}
		for _, m := range rep.Mismatched {
			errs = append(errs, "mis-shaped "+m.String())
		}
		sort.Strings(errs)
		return nil, fmt.Errorf("original: the tensors are not a %s of this config: %s", kind, strings.Join(errs, "; "))
	}
	prefix := kind.EncoderPrefix()
	out := map[string]*tensor.Dense{}
	for _, n := range originalNames(cfg, kind) {
		r, _ := lookup(n)
		parts := make([]*tensor.Dense, len(r.hf))
		for i, h := range r.hf {
			if r.part == partEncoder {
				h = prefix + h
			}
			parts[i] = tensors[h]
		}
		t, err := unapply(r, parts)
		if err != nil {
			return nil, fmt.Errorf("original: %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

// unapply is apply's inverse.
func unapply(r rule, parts []*tensor.Dense) (*tensor.Dense, error) {
	switch r.op {
	case opSplitQKV:
		s := shapeOf(parts[0])
		s[0] *= 3
		return concat(s, parts...)
	case opRows:
		s := shapeOf(parts[0])
		return concat([]int{1, max(r.full, s[1]), s[2]}, parts...)
	}
	return parts[0], nil
}

// hfKind reads the HF class from state-dict names, like hf.Load does.
func hfKind(tensors map[string]*tensor.Dense) layers.Kind {
	prefixed := false
	for n := range tensors {
		if strings.HasPrefix(n, "classifier.") {
			return layers.Classification
		}
		prefixed = prefixed || strings.HasPrefix(n, layers.EncoderPrefix)
	}
	if prefixed {
		return layers.Pretraining
	}
	return layers.Base
}
