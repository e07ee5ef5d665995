// Package reftest runs HF's reference TVLT pipeline (../shared/reference,
// with Debian's /usr/bin/python3, numpy, Pillow and torch) on tvlt-go's
// batches, so tests in several packages can check what the reference's
// processors and masking make of the same clips.
package reftest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/internal/golden"
)

//go:embed batches.py
var batchesScript string

// Python is the interpreter the reference runs with (Debian's, which has
// python3-torch; a pyenv python3 first on PATH would not).
const Python = "/usr/bin/python3"

// Available returns the reference tree, or why the reference cannot run.
func Available() (string, error) {
	root, err := golden.RepoRoot()
	if err != nil {
		return "", err
	}
	ref := filepath.Join(root, "..", "shared", "reference")
	if _, err := os.Stat(filepath.Join(ref, "hftvlt")); err != nil {
		return "", fmt.Errorf("reftest: no HF reference tree beside the repository: %w", err)
	}
	if out, err := exec.Command(Python, "-c", "import numpy, torch, PIL.Image").CombinedOutput(); err != nil {
		return "", fmt.Errorf("reftest: %s cannot import numpy, torch and PIL (apt-get install -y python3-numpy python3-torch python3-pil): %v: %s", Python, err, out)
	}
	return ref, nil
}

// Batch is what the reference pipeline makes of one of tvlt-go's batches:
// its processors' padded shapes, masks and values, and, when the batch
// carries MAE permutations of the reference's shape, the tokens HF's
// random_masking removes with them and how many of those are real.
type Batch struct {
	PixelValuesShape []int       `json:"pixel_values_shape"`
	AudioValuesShape []int       `json:"audio_values_shape"`
	PixelMask        [][]float32 `json:"pixel_mask"`
	AudioMask        [][]float32 `json:"audio_mask"`
	PixelLenKeep     int         `json:"pixel_len_keep"`
	AudioLenKeep     int         `json:"audio_len_keep"`
	PixelRemoved     int         `json:"pixel_removed"`
	PixelRealRemoved float64     `json:"pixel_real_removed"`
	AudioRemoved     int         `json:"audio_removed"`
	AudioRealRemoved float64     `json:"audio_real_removed"`
	// The batch's permutations do not fit the reference's token count
	// (tvlt-go padded to another length): no removal counts then.
	PixelIDsShapeDiffers bool `json:"pixel_ids_shape_differs"`
	AudioIDsShapeDiffers bool `json:"audio_ids_shape_differs"`

	PixelValues, AudioValues []float32 `json:"-"`
}

// Batches runs the reference on every batch: the clips of batch b are
// clips[b.Indices[j]], their frames the PNGs of the clip's frame folder in
// name order and their audio the WAV downmixed and resampled to the
// feature extractor's 44.1 kHz by tvlt-go (the reference takes waveforms).
// work is a scratch folder.
func Batches(work string, cfg config.Config, clips []data.Clip, batches []*data.Batch) ([]Batch, error) {
	ref, err := Available()
	if err != nil {
		return nil, err
	}
	const rate = 44100
	type clipIn struct {
		Frames []string `json:"frames"`
		Wave   string   `json:"wave"`
	}
	type batchIn struct {
		Clips        []clipIn  `json:"clips"`
		PixelIDs     [][]int64 `json:"pixel_ids_shuffle,omitempty"`
		AudioIDs     [][]int64 `json:"audio_ids_shuffle,omitempty"`
		PixelLenKeep int       `json:"pixel_len_keep"`
		AudioLenKeep int       `json:"audio_len_keep"`
	}
	waves := map[int]string{}
	var in []batchIn
	for _, b := range batches {
		bi := batchIn{PixelLenKeep: b.PixelLenKeep, AudioLenKeep: b.AudioLenKeep,
			PixelIDs: rows(b.PixelIDsShuffle, b.PixelMaskShape[1]), AudioIDs: rows(b.AudioIDsShuffle, b.AudioMaskShape[1])}
		for _, idx := range b.Indices {
			c := clips[idx]
			frames, err := pngs(c.Frames)
			if err != nil {
				return nil, err
			}
			if _, ok := waves[idx]; !ok {
				x, err := audio.LoadMono(c.Audio, rate)
				if err != nil {
					return nil, err
				}
				p := filepath.Join(work, fmt.Sprintf("wave_%d.f32", idx))
				if err := os.WriteFile(p, f32Bytes(x), 0o644); err != nil {
					return nil, err
				}
				waves[idx] = p
			}
			bi.Clips = append(bi.Clips, clipIn{Frames: frames, Wave: waves[idx]})
		}
		in = append(in, bi)
	}
	spec := map[string]any{"sampling_rate": rate, "batches": in, "config": map[string]any{
		"image_size": cfg.ImageSize, "image_patch_size": cfg.ImagePatchSize, "num_frames": cfg.NumFrames,
		"spectrogram_length": cfg.SpectrogramLength, "frequency_length": cfg.FrequencyLength,
		"audio_patch_size": cfg.AudioPatchSize, "pixel_mask_ratio": cfg.PixelMaskRatio, "audio_mask_ratio": cfg.AudioMaskRatio,
	}}
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "batches.json"), js, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(Python, "-c", batchesScript, ref, work)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("reftest: reference pipeline: %v\n%s", err, out)
	}
	out := make([]Batch, len(batches))
	for i := range out {
		raw, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("out_%d.json", i)))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("reftest: batch %d: %w", i, err)
		}
		for _, v := range []struct {
			name string
			dst  *[]float32
		}{{"pixel_values", &out[i].PixelValues}, {"audio_values", &out[i].AudioValues}} {
			raw, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("out_%d_%s.f32", i, v.name)))
			if err != nil {
				return nil, err
			}
			*v.dst = f32s(raw)
		}
	}
	return out, nil
}

// rows splits a flat (B, l) array into rows (nil stays nil).
func rows(flat []int64, l int) [][]int64 {
	if flat == nil || l == 0 {
		return nil
	}
	var out [][]int64
	for r := 0; r+l <= len(flat); r += l {
		out = append(out, flat[r:r+l])
	}
	return out
}

// pngs lists a frame folder's PNGs in name order.
func pngs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(strings.ToLower(e.Name()), ".png") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
