package video

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pillowScript resizes raw RGB files with Pillow: for each case it reads
// in_<i>.rgb (H×W×3) and writes out_<i>_<filter>.rgb resized with
// BILINEAR, BICUBIC and NEAREST.
const pillowScript = `
import json, sys
from PIL import Image
d = sys.argv[1]
cases = json.load(open(d + "/cases.json"))
for i, (h, w, nh, nw) in enumerate(cases):
    raw = open("%s/in_%d.rgb" % (d, i), "rb").read()
    im = Image.frombytes("RGB", (w, h), raw)
    for name, f in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC), ("nearest", Image.NEAREST)):
        out = im.resize((nw, nh), f)
        open("%s/out_%d_%s.rgb" % (d, i, name), "wb").write(out.tobytes())
print(Image.__version__ if hasattr(Image, "__version__") else "")
`

// TestResizeAgainstPillow cross-checks Resize (bilinear, bicubic, nearest) on many random sizes
// and contents against the real Pillow when a Python with Pillow is
// available ($TVLT_PILLOW_PYTHON, /usr/bin/python3 or python3; Debian:
// apt-get install python3-pil). Otherwise it skips: the golden tests already
// pin the two reference cases.
func TestResizeAgainstPillow(t *testing.T) {
	py := ""
	for _, c := range []string{os.Getenv("TVLT_PILLOW_PYTHON"), "/usr/bin/python3", "python3"} {
		if c == "" {
			continue
		}
		if exec.Command(c, "-c", "import PIL.Image").Run() == nil {
			py = c
			break
		}
	}
	if py == "" {
		t.Skip("no Python with Pillow (apt-get install python3-pil); random cross-check against Pillow skipped")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(42))
	var cases [][4]int
	fixed := [][4]int{{480, 640, 224, 298}, {270, 480, 224, 398}, {1000, 3, 7, 3}, {3, 1000, 3, 7}, {1, 1, 5, 9}, {9, 9, 1, 1}, {17, 13, 17, 31}, {50, 30, 53, 32}}
	cases = append(cases, fixed...)
	for len(cases) < 120 {
		h, w := 1+rng.Intn(200), 1+rng.Intn(200)
		nh, nw := 1+rng.Intn(200), 1+rng.Intn(200)
		if rng.Intn(3) == 0 {
			nh = h // one axis unchanged: that pass is skipped
		}
		cases = append(cases, [4]int{h, w, nh, nw})
	}
	inputs := make([]Frame, len(cases))
	for i, c := range cases {
		f := Frame{H: c[0], W: c[1], Pix: make([]uint8, c[0]*c[1]*3)}
		switch i % 3 {
		case 0:
			rng.Read(f.Pix)
		case 1: // extremes: saturation and rounding at 0/255
			for j := range f.Pix {
				f.Pix[j] = uint8(255 * rng.Intn(2))
			}
		default: // smooth gradient with noise
			for j := range f.Pix {
				f.Pix[j] = uint8((j/3)%256/2 + rng.Intn(64))
			}
		}
		inputs[i] = f
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in_%d.rgb", i)), f.Pix, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := json.Marshal(cases)
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-c", pillowScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("pillow script: %v\n%s", err, out)
	}
	total, diff := 0, 0
	for _, flt := range []Filter{Bilinear, Bicubic, Nearest} {
		for i, c := range cases {
			want, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out_%d_%s.rgb", i, flt)))
			if err != nil {
				t.Fatal(err)
			}
			got := Resize(inputs[i], c[2], c[3], flt)
			total += len(want)
			if !bytes.Equal(got.Pix, want) {
				n := 0
				for j := range want {
					if j >= len(got.Pix) || got.Pix[j] != want[j] {
						n++
					}
				}
				diff += n
				t.Errorf("%s %dx%d -> %dx%d: %d of %d bytes differ from Pillow", flt, c[0], c[1], c[2], c[3], n, len(want))
			}
		}
	}
	t.Logf("%d cases, %d bytes compared with Pillow, %d differ", len(cases), total, diff)
}
