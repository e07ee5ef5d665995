package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
	"github.com/tvlt-go/tvlt/train"
	"gorgonia.org/tensor"
)

// featureSet generates a small clip set for tvlt features: demo clips at
// 16 kHz with 1 to 5 frames of 48x36 (resized, cropped, sampled down to the
// tiny preset's 2 frames or padded up to them) and clips at 44.1 kHz with 2
// frames of 32x32, in one manifest, every other clip in split "test".
func featureSet(t *testing.T) (string, []data.Clip) {
	t.Helper()
	dir := t.TempDir()
	var clips []data.Clip
	for k, o := range []data.DemoOptions{
		{Clips: 4, Seed: 3, Width: 48, Height: 36, Frames: 5, MinFrames: 1, Seconds: 0.75, MinSeconds: 0.3, SampleRate: 16000},
		{Clips: 2, Seed: 4, Width: 32, Height: 32, Frames: 2, Seconds: 0.6, SampleRate: 44100},
	} {
		mp, err := data.GenerateDemo(filepath.Join(dir, fmt.Sprint("set", k)), o)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := data.ReadManifest(mp)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			c.ID = fmt.Sprintf("s%d/%s", k, c.ID)
			clips = append(clips, c)
		}
	}
	for i := range clips {
		clips[i].Split = []string{"train", "test"}[i%2]
	}
	mp := filepath.Join(dir, "clips.jsonl")
	if err := data.WriteManifest(mp, clips); err != nil {
		t.Fatal(err)
	}
	return mp, clips
}

// runFeaturesNPZ runs tvlt features with args and reads the .npz.
func runFeaturesNPZ(t *testing.T, args ...string) map[string]*tensor.Dense {
	t.Helper()
	out := filepath.Join(t.TempDir(), "features.npz")
	stdout, stderr, code := tvlt(t, append([]string{"features", "--out", out}, args...)...)
	if code != 0 {
		t.Fatalf("tvlt features %v: status %d\n%s%s", args, code, stdout, stderr)
	}
	arrays, err := checkpoints.ReadNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	return arrays
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func decodeIDs(t *testing.T, a *tensor.Dense) []string {
	t.Helper()
	sh, raw := a.Shape(), a.Data().([]uint8)
	var ids []string
	for i := 0; i < sh[0]; i++ {
		ids = append(ids, string(bytes.TrimRight(raw[i*sh[1]:(i+1)*sh[1]], "\x00")))
	}
	return ids
}

// TestFeaturesMatchReference: what tvlt features writes for a clip set equals
// what HF's TvltImageProcessor and TvltFeatureExtractor give on the same
// frames (the ones the loader keeps) and waveforms (16 kHz WAVs resampled
// by torchaudio as the original TVLT), to 1e-5, masks and padding included.
func TestFeaturesMatchReference(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python; skipped with -short")
	}
	ref, _ := filepath.Abs("../../../shared/reference")
	if _, err := os.Stat(filepath.Join(ref, "hftvlt")); err != nil {
		t.Skipf("no reference tree at %s", ref)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy, PIL.Image, torch, torchaudio").Run(); err != nil {
		t.Skipf("no /usr/bin/python3 with numpy, Pillow, torch and torchaudio (apt-get install python3-numpy python3-pil python3-torch python3-torchaudio): %v", err)
	}
	manifest, clips := featureSet(t)
	got := runFeaturesNPZ(t, "--data", manifest, "--preset", "tiny")

	cfg, err := train.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	type refClip struct {
		Frames []string `json:"frames"`
		WAV    string   `json:"wav"`
		Wave   string   `json:"wave"`
	}
	work := t.TempDir()
	var rc []refClip
	for _, c := range clips {
		ents, err := os.ReadDir(c.Frames)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, filepath.Join(c.Frames, e.Name()))
		}
		sort.Strings(names)
		var keep []string
		for _, i := range video.SampleIndices(len(names), cfg.NumFrames) {
			keep = append(keep, names[i])
		}
		wave, err := audio.LoadMono(c.Audio, 44100)
		if err != nil {
			t.Fatal(err)
		}
		wp := filepath.Join(work, fmt.Sprintf("wave%d.f32", len(rc)))
		if err := os.WriteFile(wp, f32Bytes(wave), 0o644); err != nil {
			t.Fatal(err)
		}
		rc = append(rc, refClip{Frames: keep, WAV: c.Audio, Wave: wp})
	}
	edge := max(cfg.ImageSize[0], cfg.ImageSize[1])
	spec := map[string]any{
		"image": map[string]any{
			"size": map[string]int{"shortest_edge": edge}, "crop_size": map[string]int{"height": cfg.ImageSize[0], "width": cfg.ImageSize[1]},
			"patch_size": cfg.ImagePatchSize, "num_frames": cfg.NumFrames,
		},
		"audio": map[string]any{
			"spectrogram_length": cfg.SpectrogramLength, "num_channels": 1, "patch_size": cfg.AudioPatchSize,
			"feature_size": cfg.FrequencyLength, "sampling_rate": 44100,
		},
		"clips": rc,
	}
	js, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(work, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/features_reference.py")
	if out, err := exec.Command("/usr/bin/python3", script, ref, work).CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	want, err := checkpoints.ReadNPZ(filepath.Join(work, "reference.npz"))
	if err != nil {
		t.Fatal(err)
	}
	// compare checks one array clip by clip, tol giving each clip's bound.
	compare := func(name, refName string, tol func(data.Clip) float64) {
		g, w := got[name], want[refName]
		if g == nil || w == nil {
			t.Fatalf("%s: missing (tvlt %v, reference %s %v)", name, g != nil, refName, w != nil)
		}
		if !g.Shape().Eq(w.Shape()) {
			t.Fatalf("%s: shape %v, reference %v", name, g.Shape(), w.Shape())
		}
		gv, wv := g.Data().([]float32), w.Data().([]float32)
		per := len(gv) / len(clips)
		for i, c := range clips {
			worst, at := 0.0, 0
			for k := i * per; k < (i+1)*per; k++ {
				if d := math.Abs(float64(gv[k] - wv[k])); d > worst {
					worst, at = d, k
				}
			}
			t.Logf("%-12s vs %-22s %s: max |diff| %.2e", name, refName, c.ID, worst)
			if worst > tol(c) {
				t.Errorf("%s, clip %s: value %d is %v, reference %s %v (|diff| %.2e > %g)", name, c.ID, at, gv[at], refName, wv[at], worst, tol(c))
			}
		}
	}
	strict := func(data.Clip) float64 { return 1e-5 }
	for _, name := range []string{"pixel_values", "pixel_mask", "audio_mask"} {
		compare(name, name, strict)
	}
	// The feature extraction on the same waveform: 1e-5.
	compare("audio_values", "audio_values_same_wave", strict)
	// The whole chain, the reference resampling with torchaudio: clips at
	// 44.1 kHz are not resampled (1e-5); resampled clips differ by
	// torchaudio's float32 convolution rounding (~2e-7 on the waveform, which
	// tvlt reproduces to that level), magnified by the log at bins 80 dB
	// below the clip's peak (measured 1.2e-5).
	compare("audio_values", "audio_values", func(c data.Clip) float64 {
		if strings.HasPrefix(c.ID, "s1/") {
			return 1e-5
		}
		return 5e-5
	})
	// Clips are in manifest order, with their ids and positions.
	ids := decodeIDs(t, got["ids"])
	index := got["index"].Data().([]int64)
	for i, c := range clips {
		if ids[i] != c.ID || index[i] != int64(i) {
			t.Errorf("clip %d: id %q index %d, want %q %d", i, ids[i], index[i], c.ID, i)
		}
	}
}

// TestFeaturesOptions: --split keeps one split with manifest positions,
// --ckpt, --config and --preset read the same sizes, --audio-resampler kaiser
// changes only the resampled clips, --pad-to max pads to the config's
// sizes, and mistakes are usage errors.
func TestFeaturesOptions(t *testing.T) {
	manifest, clips := featureSet(t)
	base := runFeaturesNPZ(t, "--data", manifest, "--preset", "tiny")
	cfg, _ := train.Preset("tiny")
	n := len(clips)
	if sh := base["pixel_values"].Shape(); !sh.Eq(tensor.Shape{n, cfg.NumFrames, 3, cfg.ImageSize[0], cfg.ImageSize[1]}) {
		t.Errorf("pixel_values shape %v", sh)
	}

	test := runFeaturesNPZ(t, "--data", manifest, "--preset", "tiny", "--split", "test")
	ids, index := decodeIDs(t, test["ids"]), test["index"].Data().([]int64)
	if len(ids) != n/2 {
		t.Fatalf("--split test: %d clips, want %d", len(ids), n/2)
	}
	per := base["audio_values"].Shape().TotalSize() / n
	for j, id := range ids {
		i := int(index[j])
		if clips[i].ID != id || clips[i].Split != "test" {
			t.Errorf("--split test: clip %d is %q at index %d (%q, %s)", j, id, i, clips[i].ID, clips[i].Split)
		}
		// The test split's longest audio may be shorter: compare the real rows.
		rows := test["audio_values"].Shape()[2]
		a := base["audio_values"].Data().([]float32)[i*per:]
		b := test["audio_values"].Data().([]float32)[j*rows*cfg.FrequencyLength:]
		for k := 0; k < min(rows, base["audio_values"].Shape()[2])*cfg.FrequencyLength; k++ {
			if a[k] != b[k] && b[k] != 0 {
				t.Fatalf("--split test: clip %q audio value %d differs from the full run", id, k)
			}
		}
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "ckpt", train.ConfigFile)
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	cb, err := cfg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ckpt", train.ModelFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--config", cfgPath}, {"--ckpt", filepath.Join(dir, "ckpt")}} {
		got := runFeaturesNPZ(t, append([]string{"--data", manifest}, args...)...)
		for name, a := range base {
			if fmt.Sprint(got[name].Data()) != fmt.Sprint(a.Data()) {
				t.Errorf("%v: %s differs from --preset tiny", args, name)
			}
		}
	}

	kaiser := runFeaturesNPZ(t, "--data", manifest, "--preset", "tiny", "--audio-resampler", "kaiser")
	av, kv := base["audio_values"].Data().([]float32), kaiser["audio_values"].Data().([]float32)
	for i, c := range clips {
		same := fmt.Sprint(av[i*per:(i+1)*per]) == fmt.Sprint(kv[i*per:(i+1)*per])
		if resampled := !strings.HasPrefix(c.ID, "s1/"); same == resampled {
			t.Errorf("--audio-resampler kaiser: clip %s (resampled: %v) unchanged: %v", c.ID, resampled, same)
		}
	}

	full := runFeaturesNPZ(t, "--data", manifest, "--preset", "tiny", "--pad-to", "max")
	if sh := full["audio_values"].Shape(); !sh.Eq(tensor.Shape{n, 1, cfg.SpectrogramLength, cfg.FrequencyLength}) {
		t.Errorf("--pad-to max: audio_values %v", sh)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", manifest}, "--out is required"},
		{[]string{"--out", "x.npz"}, "--data is required"},
		{[]string{"--data", manifest, "--out", "x.npz", "--audio-resampler", "linear"}, `invalid value "linear" for flag -audio-resampler`},
		{[]string{"--data", manifest, "--out", "x.npz", "--config", cfgPath, "--preset", "tiny"}, "one of --ckpt, --config and --preset"},
	} {
		_, stderr, code := tvlt(t, append([]string{"features"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("features %v: status %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	out := filepath.Join(dir, "none.npz")
	if _, stderr, code := tvlt(t, "features", "--data", manifest, "--preset", "tiny", "--split", "val", "--out", out); code != 1 || !strings.Contains(stderr, `no clips in split "val"`) {
		t.Errorf("empty split: status %d, stderr %q", code, stderr)
	}
}
