package original

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
)

// The original's defaults (model/config.py) and the constants its
// registered model functions (model/modules/tvlt.py) hard-code.
const (
	// MaxFrames is config max_frames: the rows of temporal_embed.
	MaxFrames = 64
	// MaxAudioPatches is config max_audio_patches: the rows of pos_embed_a.
	MaxAudioPatches = 1020
	// defaultAudioSize is config audio_size, the spectrogram frames every
	// original task reads: 1024 frames, 64 time patches of 16.
	defaultAudioSize = 1024
	// defaultNumFrames is num_frames of the MOSEI tasks and HF's default.
	defaultNumFrames = 8
	// blockEps is the eps of the registered models' norm_layer.
	blockEps = 1e-6
	// ClassifierEps is the eps of the original head's nn.LayerNorm(2D):
	// PyTorch's default, not the blocks' 1e-6.
	ClassifierEps = 1e-5
	// Original masking ratios: random_masking's and random_masking_audio's defaults.
	pixelMaskRatio      = 0.75
	frameAudioMaskRatio = 0.15
	patchAudioMaskRatio = 0.75
)

// modelTypes are the registered model functions: both build 12 encoder
// heads and 16 decoder heads whatever the config's num_heads says.
var modelTypes = map[string]struct{ heads, decoderHeads int }{
	"mae_vit_base_patch16_dec512d8b":  {12, 16},
	"mae_vit_base_patch128_dec512d8b": {12, 16},
}

// Emotions are the MOSEI emotion head's outputs in order
// (objectives.compute_moseiemo).
var Emotions = []string{"happy", "sad", "angry", "fear", "disgust", "surprise"}

// shapeSet is the original state dict's shapes under module names.
type shapeSet map[string][]int

func (s shapeSet) has(n string) bool { _, ok := s[n]; return ok }

// DeriveConfig builds the HF config of an original checkpoint from its
// tensor shapes and its Lightning hyper-parameters (nil for the published
// hub files, which hold the bare state dict): sizes come from the shapes,
// what shapes cannot tell (head counts, frames and spectrogram length the
// model was trained on, masking) from the hyper-parameters or the
// original's defaults. The kind follows from the heads present.
func DeriveConfig(shapes map[string][]int, hyper map[string]interface{}) (config.Config, layers.Kind, error) {
	s, _, dups := normalize(shapes)
	h, err := originalConfig(hyper)
	if err != nil {
		return config.Config{}, 0, fmt.Errorf("original: %w", err)
	}
	d := deriver{s: s, h: h, c: config.Default(), errs: dups}
	kind := d.derive()
	if len(d.errs) > 0 {
		sort.Strings(d.errs)
		return config.Config{}, 0, fmt.Errorf("original: cannot derive the config: %s", strings.Join(d.errs, "; "))
	}
	d.c.Architectures = []string{kind.String()}
	if err := d.c.Validate(); err != nil {
		return config.Config{}, 0, fmt.Errorf("original: derived config: %w", err)
	}
	return d.c, kind, nil
}

type deriver struct {
	s    shapeSet
	h    hparams
	c    config.Config
	errs []string
}

func (d *deriver) fail(format string, args ...interface{}) {
	d.errs = append(d.errs, fmt.Sprintf(format, args...))
}

// shape returns name's shape when it has dims dimensions.
func (d *deriver) shape(name string, dims int) []int {
	s, ok := d.s[name]
	switch {
	case !ok:
		d.fail("no tensor %s", name)
	case len(s) != dims:
		d.fail("%s has shape %v, want %d dimensions", name, s, dims)
	default:
		return s
	}
	return nil
}

// hpInt reads an integer hyper-parameter, recording a bad value.
func (d *deriver) hpInt(key string) (int, bool) {
	n, ok, err := d.h.int(key)
	if err != nil {
		d.errs = append(d.errs, err.Error())
		return 0, false
	}
	return n, ok
}

// agree records a conflict between a shape-derived size and the hyper-parameter key.
func (d *deriver) agree(key string, fromShapes int, what string) {
	if v, ok := d.hpInt(key); ok && v != fromShapes {
		d.fail("hyper_parameters %s = %d but %s gives %d", key, v, what, fromShapes)
	}
}

func (d *deriver) derive() layers.Kind {
	d.encoder()
	kind := layers.Base
	pretraining := d.pretraining()
	classifier := d.classifier()
	switch {
	case pretraining && classifier:
		d.fail("the checkpoint holds both pretraining heads and a classifier; no HF class has both")
	case classifier:
		kind = layers.Classification
	case pretraining:
		kind = layers.Pretraining
	}
	d.masking()
	return kind
}

// countLayers counts blocks prefix.i.norm1.weight, requiring 0..n-1.
func (d *deriver) countLayers(prefix string) int {
	seen := map[int]bool{}
	hi := -1
	for n := range d.s {
		if i := layerIndex(n, prefix); i >= 0 {
			seen[i] = true
			hi = max(hi, i)
		}
	}
	if len(seen) != hi+1 {
		d.fail("%s indices are not 0..%d without gaps", strings.TrimSuffix(prefix, "."), hi)
	}
	return len(seen)
}

func (d *deriver) encoder() {
	c := &d.c
	c.LayerNormEps = blockEps
	c.HiddenAct = "gelu"
	c.HiddenDropoutProb, c.AttentionProbsDropoutProb = 0, 0
	if s := d.shape("cls_token", 3); s != nil {
		c.HiddenSize = s[2]
		d.agree("hidden_size", s[2], "cls_token")
	}
	if s := d.shape("patch_embed_v.proj.weight", 4); s != nil {
		c.NumImageChannels = s[1]
		c.ImagePatchSize = [2]int{s[2], s[3]}
		if s[2] == s[3] {
			d.agree("patch_size", s[2], "patch_embed_v.proj.weight")
		}
		if p := d.shape("pos_embed_v", 3); p != nil {
			side := isqrt(p[1])
			if side*side != p[1] {
				d.fail("pos_embed_v has %d rows, not a square grid of patches", p[1])
			}
			c.ImageSize = [2]int{side * s[2], side * s[3]}
			d.agree("video_size", c.ImageSize[0], "pos_embed_v and the patch size")
		}
	}
	if s := d.shape("patch_embed_a.proj.weight", 4); s != nil {
		c.NumAudioChannels = s[1]
		c.AudioPatchSize = [2]int{s[2], s[3]}
		if ps, ok, err := d.h.ints("audio_patch_size"); err != nil {
			d.errs = append(d.errs, err.Error())
		} else if ok && (len(ps) != 2 || ps[0] != s[2] || ps[1] != s[3]) {
			d.fail("hyper_parameters audio_patch_size = %v but patch_embed_a.proj.weight gives [%d %d]", ps, s[2], s[3])
		}
		if f := d.shape("freq_embed", 3); f != nil {
			c.FrequencyLength = f[1] * s[3]
			d.agree("frequency_size", c.FrequencyLength, "freq_embed and the audio patch size")
		}
		if p := d.shape("pos_embed_a", 3); p != nil {
			d.spectrogram(p[1], s[2])
		}
	}
	if t := d.shape("temporal_embed", 3); t != nil {
		c.NumFrames = min(defaultNumFrames, t[1])
		if n, ok := d.hpInt("num_frames"); ok {
			c.NumFrames = n
		}
		if c.NumFrames > t[1] {
			d.fail("num_frames %d exceeds temporal_embed's %d rows", c.NumFrames, t[1])
		}
	}
	c.NumHiddenLayers = d.countLayers("blocks.")
	if s := d.shape("blocks.0.mlp.fc1.weight", 2); s != nil {
		c.IntermediateSize = s[0]
	}
	c.QKVBias = d.s.has("blocks.0.attn.qkv.bias")
	c.UseMeanPooling = !d.s.has("norm.weight")
	c.NumAttentionHeads = d.heads("num_heads", c.HiddenSize, 768, 12, func(a struct{ heads, decoderHeads int }) int { return a.heads })
}

// spectrogram sets spectrogram_length: the original's audio_size (the
// frames it was trained on), rounded up to whole time patches and within
// pos_embed_a's rows.
func (d *deriver) spectrogram(rows, pt int) {
	if pt <= 0 {
		d.fail("patch_embed_a.proj.weight has a time patch of %d", pt)
		return
	}
	frames := min(defaultAudioSize, rows*pt)
	if n, ok := d.hpInt("audio_size"); ok {
		frames = n
	}
	frames = (frames + pt - 1) / pt * pt
	if frames/pt > rows {
		d.fail("audio_size %d needs %d time patches but pos_embed_a has %d rows", frames, frames/pt, rows)
	}
	d.c.SpectrogramLength = frames
}

// heads finds an attention head count: the registered model function's,
// else the hyper-parameter key, else the original's count for its base
// width; shapes never tell it.
func (d *deriver) heads(key string, width, baseWidth, baseHeads int, pick func(struct{ heads, decoderHeads int }) int) int {
	if mt, ok := d.h.string("model_type"); ok {
		if a, ok := modelTypes[mt]; ok {
			return pick(a)
		}
	}
	if n, ok := d.hpInt(key); ok {
		return n
	}
	if width == baseWidth {
		return baseHeads
	}
	d.fail("the number of attention heads of width %d is not in the checkpoint: give hyper-parameters with %s, or a config.json", width, key)
	return 1
}

// pretraining derives the decoder and matching head; it reports whether
// any pretraining head is present.
func (d *deriver) pretraining() bool {
	c := &d.c
	mae := d.s.has("decoder_embed.weight") || d.countLayersQuiet("decoder_blocks.") > 0
	matching := d.s.has("matching_score.fc.weight")
	if !mae && !matching {
		return false
	}
	c.TaskMAE, c.TaskMatching = mae, matching
	if mae {
		if s := d.shape("decoder_embed.weight", 2); s != nil {
			c.DecoderHiddenSize = s[0]
			d.agree("decoder_hidden_size", s[0], "decoder_embed.weight")
		}
		c.DecoderNumHiddenLayers = d.countLayers("decoder_blocks.")
		if s := d.shape("decoder_blocks.0.mlp.fc1.weight", 2); s != nil {
			c.DecoderIntermediateSize = s[0]
		}
		c.DecoderNumAttentionHeads = d.heads("decoder_num_heads", c.DecoderHiddenSize, 512, 16, func(a struct{ heads, decoderHeads int }) int { return a.decoderHeads })
	}
	return true
}

func (d *deriver) countLayersQuiet(prefix string) int {
	n := 0
	for name := range d.s {
		if layerIndex(name, prefix) >= 0 {
			n++
		}
	}
	return n
}

// classifier derives the MOSEI / VQA head; it reports whether one is present.
func (d *deriver) classifier() bool {
	c := &d.c
	mosei, vqa := d.hasModule(classifierModule), d.hasModule(vqaClassifierModule)
	if !mosei && !vqa {
		return false
	}
	if mosei && vqa {
		d.fail("the checkpoint holds both classifier and vqa_classifier; HF's class has one head")
		return true
	}
	module := classifierModule
	if vqa {
		module = vqaClassifierModule
	}
	s := d.shape(module+".4.weight", 2)
	if s == nil {
		return true
	}
	c.NumLabels = s[0]
	c.ClassifierPooler = true
	c.ClassifierLayerNormEps = ClassifierEps
	c.ID2Label = nil
	switch {
	case vqa:
		c.LossType = config.LossVQA
		d.agree("vqav2_label_size", s[0], module+".4.weight")
	default:
		sentiment, err1 := d.h.lossWeight("mosei")
		emotion, err2 := d.h.lossWeight("moseiemo")
		for _, err := range []error{err1, err2} {
			if err != nil {
				d.errs = append(d.errs, err.Error())
			}
		}
		switch {
		case sentiment > 0 && emotion > 0:
			d.fail("hyper_parameters loss_names has both mosei and moseiemo")
		case sentiment > 0 || emotion == 0 && s[0] == 1:
			c.LossType = config.LossRegression
			c.ID2Label = map[int]string{0: "sentiment"}
		case emotion > 0 || s[0] == len(Emotions):
			c.LossType = config.LossMultilabel
			if s[0] == len(Emotions) {
				c.ID2Label = map[int]string{}
				for i, e := range Emotions {
					c.ID2Label[i] = e
				}
			}
		default:
			d.fail("%s has %d outputs: neither the sentiment head (1) nor the emotion head (%d), and no loss_names tell", module, s[0], len(Emotions))
		}
	}
	return true
}

func (d *deriver) hasModule(module string) bool {
	for n := range d.s {
		if strings.HasPrefix(n, module+".") {
			return true
		}
	}
	return false
}

// masking sets the MAE ratios: frame-level 0.15 (random_masking_audio) when
// frame_masking is on, else patch-level at random_masking's 0.75. Without
// hyper-parameters the pretrained model's setting (the demo's
// frame_masking True, as HF) is used.
func (d *deriver) masking() {
	c := &d.c
	c.PixelMaskRatio = pixelMaskRatio
	frame := true
	if d.h != nil {
		f, ok, err := d.h.bool("frame_masking")
		if err != nil {
			d.errs = append(d.errs, err.Error())
		}
		frame = ok && f
	}
	if frame {
		c.AudioMaskType, c.AudioMaskRatio = "frame-level", frameAudioMaskRatio
	} else {
		c.AudioMaskType, c.AudioMaskRatio = "patch-level", patchAudioMaskRatio
	}
}

func isqrt(n int) int {
	if n <= 0 {
		return 0
	}
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}
