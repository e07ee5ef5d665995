package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateDemoDefault(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	mp, err := GenerateDemo(dir, demoOptions(func(o *DemoOptions) { o.Seed = 1 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("256 demo clips in %v", time.Since(start))
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	splits := map[string]int{}
	classes := map[int]int{}
	for _, c := range clips {
		splits[c.Split]++
		if c.Label.Kind != LabelClass {
			t.Fatalf("%s: label %+v", c.ID, c.Label)
		}
		classes[c.Label.Class]++
	}
	if len(clips) != 256 || splits["train"] != 204 || splits["val"] != 26 || splits["test"] != 26 {
		t.Fatalf("%d clips, splits %v", len(clips), splits)
	}
	for c := 0; c < DemoClasses; c++ {
		if classes[c] != 64 {
			t.Fatalf("classes %v", classes)
		}
	}
	st, err := os.Stat(clips[0].Audio)
	if err != nil || st.Size() != 44+2*33075 {
		t.Fatalf("WAV size %v (%v), want 0.75 s of PCM16", st.Size(), err)
	}
	entries, _ := os.ReadDir(clips[0].Frames)
	if len(entries) != 4 {
		t.Fatalf("%d frames, want 4", len(entries))
	}
}

func TestGenerateDemoDeterministic(t *testing.T) {
	read := func(dir string) map[string][]byte {
		files := map[string][]byte{}
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				files[rel], _ = os.ReadFile(p)
			}
			return nil
		})
		return files
	}
	gen := func(seed uint64) map[string][]byte {
		dir := t.TempDir()
		if _, err := GenerateDemo(dir, demoOptions(func(o *DemoOptions) { o.Clips, o.Seed = 12, seed })); err != nil {
			t.Fatal(err)
		}
		return read(dir)
	}
	a, b, c := gen(3), gen(3), gen(4)
	if len(a) != 12*5+1 {
		t.Fatalf("%d files, want 61", len(a))
	}
	same := true
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("seed 3 twice: %s differs", k)
		}
		if k != "manifest.jsonl" && !bytes.Equal(v, c[k]) {
			same = false
		}
	}
	if same {
		t.Fatal("seeds 3 and 4 give the same media")
	}
}

// demoSig is what a fixed rule reads back from one modality of a demo clip.
type demoSig struct {
	class         int
	stripes, hiss bool
}

func (a demoClip) sig() demoSig { return demoSig{a.class, a.stripes, a.hiss} }

// readDemoVideo reads the signature from a clip's normalised frames ([-1, 1], CHW):
// for each channel, which of its two pixel sets (demoOn with the attribute false or
// true) is brighter, and whether the darker set is grey or black.
func readDemoVideo(pix []float32, frames, h, w int) demoSig {
	var sum [3][2]float64 // channel, attribute value
	var cnt [2]float64
	hw := h * w
	for k := 0; k < frames; k++ {
		fr := pix[k*3*hw : (k+1)*3*hw]
		for p := 0; p < hw; p++ {
			px, py := p%w, p/w
			t := demoOn(demoClip{class: 3, stripes: true}, px, py) // where each channel is lit when its attribute is true
			for ch := range 3 {
				sum[ch][b2i(t[ch])] += (float64(fr[ch*hw+p]) + 1) / 2 * 255
			}
			cnt[b2i(t[0])]++ // every pattern lights half the pixels
		}
	}
	var s demoSig
	dark := 0.0
	for ch := range 3 {
		on := sum[ch][1] > sum[ch][0]
		dark += min(sum[ch][0], sum[ch][1]) / cnt[0] / 3
		if on {
			switch ch {
			case 0:
				s.class |= 1
			case 1:
				s.class |= 2
			case 2:
				s.stripes = true
			}
		}
	}
	s.hiss = dark > demoGrey/2
	return s
}

// readDemoAudio reads the signature from a clip's audio features (time x 32 mel bins):
// which half of each 16-frame patch sounds (rows), which quarter of the mel patches
// (cols, stripes), and whether the silent half-patches hiss.
func readDemoAudio(feat []float32, rows int) demoSig {
	var half [2]float64
	for r := 0; r < rows; r++ {
		for m := 0; m < 32; m++ {
			half[r%demoPatch/(demoPatch/2)] += float64(feat[r*32+m])
		}
	}
	var s demoSig
	if half[1] > half[0] {
		s.class |= 1
	}
	var band [4]float64 // quarters of a mel patch (both patches) in the sounding half-patches
	var quiet float64   // all bins in the silent half-patches
	nOn, nOff := 0, 0
	for r := 0; r < rows; r++ {
		if k := r % (demoPatch / 2); k < 2 || k > 5 {
			continue // the middle of each half-patch only (the STFT window smears the edges)
		}
		if (r%demoPatch >= demoPatch/2) == (s.class&1 == 1) {
			nOn++
			for m := 0; m < 32; m++ {
				band[m%demoPatch/demoQuarter] += float64(feat[r*32+m])
			}
		} else {
			nOff++
			for m := 0; m < 32; m++ {
				quiet += float64(feat[r*32+m])
			}
		}
	}
	q := 0
	for i := range band {
		if band[i] > band[q] {
			q = i
		}
	}
	s.class |= 2 * (q / 2)
	s.stripes = q%2 == 1
	s.hiss = quiet/float64(nOff*32) > -0.7
	return s
}

// TestDemoCues checks, without any learning, that the decoded tensors carry the
// matching and class signals: a fixed rule reads the four attributes from the frames
// and from the audio features, the two agree for every true pair, the frames give the
// label, the rule tells at least 90% of mismatched pairs (audio of one clip, video of
// another) apart from true ones, and it reaches at least 95% accuracy on the loader's
// matching pairs (half true, half negatives) — about the ceiling a model can reach on
// the matching task, which the demo's pretraining must approach.
func TestDemoCues(t *testing.T) {
	dir := t.TempDir()
	mp, err := GenerateDemo(dir, demoOptions(func(o *DemoOptions) { o.Clips, o.Seed = 128, 9 }))
	if err != nil {
		t.Fatal(err)
	}
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	sh := tinyConfig()
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 32, Padding: Padding{Mode: PadMax}})
	if err != nil {
		t.Fatal(err)
	}
	// Each chord's tones must hit distinct mel bins: centres strictly increasing and
	// spaced wider than the pitch jitter.
	for m := 1; m < 32; m++ {
		if lo, hi := demoMelCentre(m-1), demoMelCentre(m); hi < lo*1.08 {
			t.Fatalf("mel bins %d and %d: centres %.0f and %.0f Hz too close", m-1, m, lo, hi)
		}
	}
	var vid, aud []demoSig
	combos := map[demoSig]int{}
	for _, b := range collect(t, l.Epoch(0)) {
		for j := 0; j < b.Size(); j++ {
			fl := sh.NumFrames * 3 * sh.ImageSize[0] * sh.ImageSize[1]
			v := readDemoVideo(b.PixelValues[j*fl:(j+1)*fl], sh.NumFrames, sh.ImageSize[0], sh.ImageSize[1])
			a := readDemoAudio(b.AudioValues[j*64*32:(j+1)*64*32], 64)
			truth := demoAttrs(demoOptions(func(o *DemoOptions) { o.Seed = 9 }), b.Indices[j]).sig()
			if v != truth || a != truth {
				t.Errorf("%s: video reads %+v, audio %+v, generated %+v", b.IDs[j], v, a, truth)
			}
			if v.class != b.Labels[j].Class {
				t.Errorf("%s: frames say class %d, label %d", b.IDs[j], v.class, b.Labels[j].Class)
			}
			vid, aud = append(vid, v), append(aud, a)
			combos[truth]++
		}
	}
	if len(combos) != DemoClasses*4 {
		t.Errorf("%d of %d attribute combinations present", len(combos), DemoClasses*4)
	}
	differ, pairs := 0, 0
	for i := range aud {
		for j := range vid {
			if i != j {
				pairs++
				if aud[i] != vid[j] {
					differ++
				}
			}
		}
	}
	frac := float64(differ) / float64(pairs)
	t.Logf("%d combinations; the rule rejects %.3f of %d mismatched pairs", len(combos), frac, pairs)
	if frac < 0.9 {
		t.Fatalf("only %.3f of mismatched pairs are distinguishable, want >= 0.9", frac)
	}

	// The pretraining task itself: the loader's pairs (half of them with another clip's
	// video), judged by the rule "the two signatures agree".
	pl, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 32, Padding: Padding{Mode: PadMax}, Pretraining: true, Seed: 5, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	right, total := 0, 0
	for epoch := range 6 {
		for _, b := range collect(t, pl.Epoch(epoch)) {
			for j := 0; j < b.Size(); j++ {
				fl := sh.NumFrames * 3 * sh.ImageSize[0] * sh.ImageSize[1]
				v := readDemoVideo(b.PixelValuesMixed[j*fl:(j+1)*fl], sh.NumFrames, sh.ImageSize[0], sh.ImageSize[1])
				a := readDemoAudio(b.AudioValues[j*64*32:(j+1)*64*32], 64)
				total++
				if (v == a) == (b.MatchingLabels[j] == 1) {
					right++
				}
			}
		}
	}
	acc := float64(right) / float64(total)
	t.Logf("the rule's matching accuracy on %d loader pairs: %.3f", total, acc)
	if acc < 0.95 {
		t.Fatalf("the rule's matching accuracy is %.3f, want >= 0.95", acc)
	}
}

// demoOptions is DefaultDemoOptions with set applied.
func demoOptions(set func(*DemoOptions)) DemoOptions {
	o := DefaultDemoOptions()
	set(&o)
	return o
}
