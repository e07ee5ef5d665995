package original

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// LightningPrefix is where the original's Lightning module
// (model_module.Transformer) keeps the TVLT module: its checkpoints name
// tensors "transformer.blocks.0.attn.qkv.weight"; the published hub files
// hold the TVLT module's own state dict, "blocks.0.attn.qkv.weight".
const LightningPrefix = "transformer."

// metricRoots start the Lightning module's torchmetrics attributes
// (model_utils.set_metrics: train_mosei_loss, val_vam_accuracy, ...), whose
// states are not weights.
var metricRoots = []string{"train_", "val_", "test_"}

// normalize removes the Lightning prefix and drops metric states. src maps
// each kept module name back to the checkpoint's name.
func normalize[T any](in map[string]T) (out map[string]T, src map[string]string, errs []string) {
	out, src = map[string]T{}, map[string]string{}
	for name, v := range in {
		n := strings.TrimPrefix(name, LightningPrefix)
		if n == name && slices.ContainsFunc(metricRoots, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		if prev, dup := src[n]; dup {
			a, b := min(prev, name), max(prev, name)
			errs = append(errs, fmt.Sprintf("%s and %s are the same tensor %s", a, b, n))
			continue
		}
		out[n], src[n] = v, name
	}
	return out, src, errs
}

// IsOriginal reports whether a state dict uses the original repository's
// names (with or without the Lightning prefix) rather than HF's.
func IsOriginal(names []string) bool {
	for _, name := range names {
		n := strings.TrimPrefix(name, LightningPrefix)
		if n == "cls_token" || strings.HasPrefix(n, "blocks.") || strings.HasPrefix(n, "patch_embed_v.") {
			return true
		}
	}
	return false
}

// ToHF converts an original checkpoint — its state dict (Lightning's, or
// the published TVLT module's) and its hyper-parameters (nil when the file
// has none) — into an HF config and state dict: the config from
// DeriveConfig, the tensors renamed and reshaped by Convert.
func ToHF(tensors map[string]*tensor.Dense, hyper map[string]interface{}) (config.Config, map[string]*tensor.Dense, error) {
	shapes := make(map[string][]int, len(tensors))
	for n, t := range tensors {
		shapes[n] = shapeOf(t)
	}
	cfg, _, err := DeriveConfig(shapes, hyper)
	if err != nil {
		return config.Config{}, nil, err
	}
	out, _, err := Convert(cfg, tensors)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, out, nil
}

// Convert renames an original state dict to HF's names for cfg: fused qkv
// rows split into query, key and value; temporal and audio-time tables cut
// to cfg's num_frames and spectrogram_length rows (the original keeps 64
// and 1020, of which it reads as many); the classifier's Sequential indices
// shifted past its pooler. The HF class (returned) follows from the heads
// present; encoder names get its prefix. Every tensor must map onto the
// class's parameters for cfg with the expected shape, and every parameter
// must be filled: otherwise one error lists each offending tensor with its
// shape, sorted.
func Convert(cfg config.Config, tensors map[string]*tensor.Dense) (map[string]*tensor.Dense, layers.Kind, error) {
	in, src, errs := normalize(tensors)
	kind := kindOf(in)
	expected, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		return nil, kind, fmt.Errorf("original: %w", err)
	}
	prefix := kind.EncoderPrefix()
	out := map[string]*tensor.Dense{}
	done := map[string]bool{}   // HF names filled or already reported
	from := map[string]string{} // HF name -> checkpoint name
	for _, n := range sortedNames(in) {
		t, cname := in[n], src[n]
		r, ok := lookup(n)
		if !ok {
			errs = append(errs, unmappedError(n, cname, shapeOf(t)))
			continue
		}
		hf := make([]string, len(r.hf))
		for i, h := range r.hf {
			if r.part == partEncoder {
				h = prefix + h
			}
			hf[i] = h
		}
		for _, h := range hf {
			if prev, dup := from[h]; dup {
				errs = append(errs, fmt.Sprintf("%s and %s both map to %s", prev, cname, h))
			}
			done[h], from[h] = true, cname
		}
		parts, err := apply(r, cfg, t)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %v: %v", cname, shapeOf(t), err))
			continue
		}
		for i, p := range parts {
			want, ok := expected[hf[i]]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s %v would be %s, which %s lacks for this config", cname, shapeOf(t), hf[i], kind))
			case !slices.Equal(shapeOf(p), want):
				errs = append(errs, fmt.Sprintf("%s %v gives %s %v, the config expects %v", cname, shapeOf(t), hf[i], shapeOf(p), want))
			default:
				out[hf[i]] = p
			}
		}
	}
	back := originalOf(cfg, kind)
	for _, h := range sortedNames(expected) {
		if !done[h] {
			errs = append(errs, fmt.Sprintf("missing %s (for %s %v)", back[h], h, expected[h]))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, kind, fmt.Errorf("original: %d problems converting to %s: %s", len(errs), kind, strings.Join(errs, "; "))
	}
	return out, kind, nil
}

func unmappedError(n, cname string, shape []int) string {
	root, _, _ := strings.Cut(n, ".")
	if why, ok := unsupported[root]; ok {
		return fmt.Sprintf("%s %v: unsupported, %s", cname, shape, why)
	}
	return fmt.Sprintf("%s %v: unmapped (no HF TVLT parameter corresponds)", cname, shape)
}

// kindOf picks the HF class from the heads present.
func kindOf[T any](in map[string]T) layers.Kind {
	kind := layers.Base
	for n := range in {
		r, ok := lookup(n)
		if !ok {
			continue
		}
		switch r.part {
		case partClassifier:
			return layers.Classification
		case partDecoder, partMatching:
			kind = layers.Pretraining
		}
	}
	return kind
}

// apply computes the HF tensors of one original tensor.
func apply(r rule, cfg config.Config, t *tensor.Dense) ([]*tensor.Dense, error) {
	s := shapeOf(t)
	switch r.op {
	case opSplitQKV:
		if s[0]%3 != 0 || len(s) > 2 {
			return nil, fmt.Errorf("a fused qkv needs 3·D rows and at most 2 dimensions")
		}
		w := s[0] / 3
		one := slices.Clone(s)
		one[0] = w
		n := elems(one)
		parts := make([]*tensor.Dense, 3)
		for i := range parts {
			p, err := block(t, i*n, (i+1)*n, one...)
			if err != nil {
				return nil, err
			}
			parts[i] = p
		}
		return parts, nil
	case opRows:
		keep := r.rows(cfg)
		if len(s) != 3 || s[0] != 1 {
			return nil, fmt.Errorf("want a (1, rows, width) table")
		}
		if s[1] < keep {
			return nil, fmt.Errorf("has %d rows, the config needs %d", s[1], keep)
		}
		p, err := block(t, 0, keep*s[2], 1, keep, s[2])
		if err != nil {
			return nil, err
		}
		return []*tensor.Dense{p}, nil
	}
	return []*tensor.Dense{t}, nil
}

func sortedNames[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ConvertFor converts for a model of config cfg, as a loader needs: the
// temporal and audio-time tables are cut to cfg's num_frames and
// spectrogram_length, while the heads keep the checkpoint's own layout
// (DeriveConfig's), so that the loader, not the conversion, judges heads
// cfg sizes differently (another num_labels, no pooler). When the
// checkpoint's config cannot be derived (head counts unknown without
// hyper-parameters), cfg is used as it is.
func ConvertFor(cfg config.Config, tensors map[string]*tensor.Dense, hyper map[string]interface{}) (map[string]*tensor.Dense, layers.Kind, error) {
	shapes := make(map[string][]int, len(tensors))
	for n, t := range tensors {
		shapes[n] = shapeOf(t)
	}
	if own, _, err := DeriveConfig(shapes, hyper); err == nil {
		own.NumFrames, own.SpectrogramLength = cfg.NumFrames, cfg.SpectrogramLength
		cfg = own
	}
	return Convert(cfg, tensors)
}
