package original

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// tinyConfig is a small valid config whose original form the fuzz target
// perturbs.
func tinyConfig() config.Config {
	c := config.Default()
	c.ImageSize, c.ImagePatchSize = [2]int{16, 16}, [2]int{8, 8}
	c.SpectrogramLength, c.FrequencyLength, c.AudioPatchSize = 16, 16, [2]int{8, 8}
	c.NumFrames, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 2, 8, 1, 2, 16
	c.DecoderHiddenSize, c.DecoderNumHiddenLayers, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize = 8, 1, 2, 16
	c.NumLabels, c.LossType, c.ClassifierPooler = 1, config.LossRegression, true
	return c
}

// FuzzDeriveConvert: any shapes and hyper-parameters give a config or an
// error, and Convert of tensors of those shapes a state dict or an
// error — never a panic. dims edits the tiny original state dict: each
// triple (tensor, axis, size) sets one dimension, a size of 255 deletes
// the tensor; the first byte picks the class.
func FuzzDeriveConvert(f *testing.F) {
	f.Add([]byte{0}, `{"config": {"num_heads": 2, "decoder_num_heads": 2}}`)
	f.Add([]byte{1, 3, 0, 0}, `{"config": {"num_heads": 2, "audio_size": 9, "frame_masking": 1}}`)
	f.Add([]byte{2, 7, 1, 255, 9, 2, 5}, `{"config": {"loss_names": {"moseiemo": 1}, "model_type": "x"}}`)
	f.Add([]byte{0, 1, 3, 0}, `{"model_type": "transformer", "config": []}`)
	f.Fuzz(func(t *testing.T, dims []byte, hp string) {
		if len(dims) == 0 {
			return
		}
		kind := []layers.Kind{layers.Base, layers.Pretraining, layers.Classification}[int(dims[0])%3]
		shapes := originalShapes(t, tinyConfig(), kind)
		names := make([]string, 0, len(shapes))
		for n := range shapes {
			names = append(names, n)
		}
		sort.Strings(names)
		for i := 1; i+2 < len(dims); i += 3 {
			n := names[int(dims[i])%len(names)]
			s := shapes[n]
			if s == nil {
				continue
			}
			if dims[i+2] == 255 {
				delete(shapes, n)
				continue
			}
			s = append([]int(nil), s...)
			s[int(dims[i+1])%len(s)] = int(dims[i+2])
			shapes[n] = s
		}
		var h map[string]interface{}
		_ = json.Unmarshal([]byte(hp), &h)
		cfg, _, err := DeriveConfig(shapes, h)
		if err != nil {
			cfg = tinyConfig()
		}
		total := 0
		tensors := map[string]*tensor.Dense{}
		for n, s := range shapes {
			for _, d := range s {
				if d <= 0 {
					return // gorgonia's tensors have no empty dimensions
				}
			}
			total += elems(s)
			if total > 1<<20 {
				return
			}
			tensors[n] = zeros(s...)
		}
		if out, _, err := Convert(cfg, tensors); err == nil {
			if _, err := FromHF(cfg, out); err != nil {
				t.Errorf("FromHF of a converted state dict: %v", err)
			}
		}
		_, _ = HyperParameters(cfg, kind)
	})
}
