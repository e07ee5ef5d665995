package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateDemoDefault(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	mp, err := GenerateDemo(dir, DemoOptions{Seed: 1})
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
		if _, err := GenerateDemo(dir, DemoOptions{Clips: 12, Seed: seed}); err != nil {
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

// TestDemoLearnable checks, without any learning, that the decoded tensors carry both
// signals: a fixed rule reads the class from the frames' colour and from the audio's
// pitch, and the visibility pattern from frames and from audio energy. The (class,
// pattern) signatures of video and audio agree for every true pair and disagree for
// at least 90% of pairs with another clip's video, so a model that learns them can
// solve the matching task (motion direction <-> tone shape adds more on top).
func TestDemoLearnable(t *testing.T) {
	dir := t.TempDir()
	mp, err := GenerateDemo(dir, DemoOptions{Clips: 96, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	sh := tinyShapes()
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 32, FixedShapes: true})
	if err != nil {
		t.Fatal(err)
	}
	type sig struct{ class, pattern int }
	var vid, aud []sig
	bandOfClass := map[int]map[int]int{} // class -> loudest band -> count
	for _, b := range collect(t, l.Epoch(0)) {
		for j := 0; j < b.Size(); j++ {
			// Video: saturated pixels are the shape; their mean colour is the class.
			var v sig
			var sum [3]float64
			n := 0
			for k := 0; k < 4; k++ {
				fr := b.PixelValues[(j*4+k)*3*1024 : (j*4+k+1)*3*1024]
				count := 0
				for p := 0; p < 1024; p++ {
					r, g, bl := float64(fr[p]), float64(fr[1024+p]), float64(fr[2048+p])
					if math.Max(r, math.Max(g, bl))-math.Min(r, math.Min(g, bl)) > 0.5 {
						count++
						sum[0], sum[1], sum[2] = sum[0]+r, sum[1]+g, sum[2]+bl
						n++
					}
				}
				if count > 20 {
					v.pattern |= 1 << k
				}
			}
			best := math.Inf(1)
			for c, col := range demoColours {
				d := 0.0
				for ch, x := range []uint8{col.R, col.G, col.B} {
					want := float64(x)/255*2 - 1
					d += math.Pow(sum[ch]/float64(n)-want, 2)
				}
				if d < best {
					best, v.class = d, c
				}
			}
			// Audio: segment k = rows 16k..16k+15; use its middle rows.
			var a sig
			feat := b.AudioValues[j*64*32 : (j+1)*64*32]
			var bandSum [32]float64
			for k := 0; k < 4; k++ {
				peak := math.Inf(-1)
				for m := 0; m < 32; m++ {
					s := 0.0
					for r := 16*k + 4; r < 16*k+12; r++ {
						s += float64(feat[r*32+m])
					}
					peak = math.Max(peak, s/8)
				}
				if peak > 0 {
					a.pattern |= 1 << k
					for m := 0; m < 32; m++ {
						for r := 16*k + 4; r < 16*k+12; r++ {
							bandSum[m] += float64(feat[r*32+m])
						}
					}
				}
			}
			loud := 0
			for m := range bandSum {
				if bandSum[m] > bandSum[loud] {
					loud = m
				}
			}
			cls := b.Labels[j].Class
			if bandOfClass[cls] == nil {
				bandOfClass[cls] = map[int]int{}
			}
			bandOfClass[cls][loud]++
			a.class = loud // mapped to a class below
			vid, aud = append(vid, v), append(aud, a)
			if v.class != cls {
				t.Errorf("%s: colour says class %d, label %d", b.IDs[j], v.class, cls)
			}
		}
	}
	// The loudest band identifies the class: no band is loudest for two classes.
	classOfBand := map[int]int{}
	for c, bands := range bandOfClass {
		for band := range bands {
			if prev, dup := classOfBand[band]; dup {
				t.Fatalf("classes %d and %d share loudest band %d (%v)", prev, c, band, bandOfClass)
			}
			classOfBand[band] = c
		}
	}
	t.Logf("loudest mel bands per class: %v", bandOfClass)
	for i := range aud {
		aud[i].class = classOfBand[aud[i].class]
		if aud[i] != vid[i] {
			t.Fatalf("clip %d: video signature %+v, audio %+v", i, vid[i], aud[i])
		}
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
	if frac := float64(differ) / float64(pairs); frac < 0.9 {
		t.Fatalf("only %.3f of mismatched pairs are distinguishable", frac)
	} else {
		t.Logf("%.3f of mismatched pairs differ in (class, pattern)", frac)
	}
}
