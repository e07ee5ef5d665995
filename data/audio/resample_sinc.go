package audio

import (
	"math"
	"sync"
)

// The SincHann resampler is torchaudio.functional.resample (torchaudio 0.13)
// with its defaults, as the original TVLT called it on float32 waveforms:
//
//   - the rates are divided by their gcd (orig, new); the cutoff is
//     base = min(orig, new)·rolloff with rolloff 0.99, and the kernel reaches
//     width = ceil(6·orig/base) input samples beyond each frame;
//   - output sample i·new + j (phase j of frame i) is
//     Σ_k x[i·orig + k − width] · h_j[k], k in [0, 2·width + orig), x zero
//     outside its ends (torchaudio's padding and conv1d with stride orig);
//   - h_j[k] = sinc(π·t)·cos²(π·t/12)·base/orig, where
//     t = clamp(((k − width)/orig − j/new)·base, −6, 6): a sinc whose zero
//     crossings follow the lower of the two rates, Hann-windowed over 6 of
//     them on each side;
//   - the output is cut to ceil(new·len/orig) samples.
//
// For float32 input torchaudio computes the kernel in float32 (resample
// passes the waveform's dtype), one rounding per tensor operation; the kernel
// below makes the same float32 operations in the same order, so the taps agree
// with torchaudio's (measured for 44.1↔16 kHz: 92% bit for bit, all within
// 1.8e-7; its vectorised sin and cos are within an ulp of Go's, and a few
// taps near the sinc's zeros amplify that). Building the kernel in float64
// instead, as torchaudio.transforms.Resample does, moves outputs by up to
// 1.4e-5, so the float32 steps matter. Taps where t is clamped to ±6 are left out:
// torchaudio's are ~1e-22 (sin of 6π in float32 times a squared cosine of
// ~4e-8), far below float32 resolution of any output. Sums are accumulated in
// float64, so the result is the exact sum of the float32 products to within
// an ulp, where torchaudio's float32 convolution differs from that by up to
// 3e-7 (measured): outputs agree with torchaudio's to ~2e-7, not bit for bit.
const (
	sincZeros    = 6    // lowpass_filter_width
	sincRolloff  = 0.99 // rolloff
	maxSincTable = 1 << 20
)

// sincKernel is the polyphase filter of one reduced rate pair: phase j holds
// only the taps where t is not clamped, starting at input offset off[j]
// relative to frame start i·orig.
type sincKernel struct {
	orig, new int
	width     int
	base32    float32 // base as torchaudio's float32 tensor ops see it
	scale32   float32 // base/orig, likewise
	reach     float64 // 6·orig/base: input samples the sinc spans on each side
	// The table (all phases, cached), nil when new·taps > maxSincTable:
	// such rate pairs compute each phase once per call instead.
	off   []int
	start []int     // phase j's taps are taps[start[j]:start[j+1]]
	taps  []float64 // float32 values, widened once
}

var sincCache sync.Map // [2]int{orig, new} -> *sincKernel

func newSincKernel(orig, new int) *sincKernel {
	base := float64(min(orig, new)) * sincRolloff
	k := &sincKernel{
		orig: orig, new: new,
		width:   int(math.Ceil(sincZeros * float64(orig) / base)),
		base32:  float32(base),
		scale32: float32(base / float64(orig)),
		reach:   sincZeros * float64(orig) / base,
	}
	// Every phase has about 2·reach taps; table them when that is small.
	if float64(new)*(2*k.reach+4) <= maxSincTable {
		k.off = make([]int, new)
		k.start = make([]int, new+1)
		for j := 0; j < new; j++ {
			var off int
			k.taps, off = k.phase(j, k.taps)
			k.off[j] = off
			k.start[j+1] = len(k.taps)
		}
	}
	return k
}

func sincKernelFor(from, to int) *sincKernel {
	g := gcd(from, to)
	key := [2]int{from / g, to / g}
	if k, ok := sincCache.Load(key); ok {
		return k.(*sincKernel)
	}
	k := newSincKernel(key[0], key[1])
	if k.taps == nil {
		return k // not cached: the caller computes phases as it goes
	}
	actual, _ := sincCache.LoadOrStore(key, k)
	return actual.(*sincKernel)
}

// phase appends phase j's non-clamped taps to dst and returns them with the
// input offset of the first (relative to the frame start i·orig).
func (k *sincKernel) phase(j int, dst []float64) ([]float64, int) {
	const (
		lw   = float32(sincZeros)
		pi32 = float32(math.Pi)
	)
	// Candidate taps m = k − width, a little wider than the reach on each
	// side of the phase's centre j·orig/new; the float32 test below decides.
	c := float64(j) * float64(k.orig) / float64(k.new)
	lo := max(int(math.Floor(c-k.reach))-2, -k.width)
	hi := min(int(math.Ceil(c+k.reach))+2, k.width+k.orig-1)
	a := float32(float32(-j) / float32(k.new))
	off, n := 0, 0
	for m := lo; m <= hi; m++ {
		idx := float32(float32(m) / float32(k.orig))
		t := float32(a + idx)
		t = float32(t * k.base32)
		if t <= -lw {
			continue
		}
		if t >= lw {
			break
		}
		if n == 0 {
			off = m
		}
		n++
		w := float32(float32(float32(t*pi32)/lw) / 2)
		cw := float32(math.Cos(float64(w)))
		win := float32(cw * cw)
		tp := float32(t * pi32)
		s := float32(1)
		if tp != 0 {
			s = float32(float32(math.Sin(float64(tp))) / tp)
		}
		dst = append(dst, float64(float32(s*float32(win*k.scale32))))
	}
	return dst, off
}

// resampleSinc is Resample with SincHann; from != to, both positive.
func resampleSinc(x []float32, from, to int) []float32 {
	n := ResampledLen(len(x), from, to)
	if n == 0 {
		return []float32{}
	}
	return sincKernelFor(from, to).apply(x)
}

// apply resamples x with the kernel: from the table when there is one, else
// computing each phase once.
func (k *sincKernel) apply(x []float32) []float32 {
	n := ResampledLen(len(x), k.orig, k.new)
	out := make([]float32, n)
	if k.taps != nil {
		j, frame := 0, 0
		for o := range out {
			out[o] = dot(x, frame+k.off[j], k.taps[k.start[j]:k.start[j+1]])
			if j++; j == k.new {
				j, frame = 0, frame+k.orig
			}
		}
		return out
	}
	// No table: phase by phase, each computed once.
	var scratch []float64
	for j := 0; j < k.new && j < n; j++ {
		var off int
		scratch, off = k.phase(j, scratch[:0])
		for o, frame := j, 0; o < n; o, frame = o+k.new, frame+k.orig {
			out[o] = dot(x, frame+off, scratch)
		}
	}
	return out
}

// dot is Σ taps[u]·x[b+u] over the u where x is defined (zero elsewhere).
func dot(x []float32, b int, taps []float64) float32 {
	lo, hi := max(0, -b), min(len(taps), len(x)-b)
	if lo >= hi {
		return 0
	}
	t := taps[lo:hi]
	s := x[b+lo : b+hi]
	s = s[:len(t)]
	var a0, a1, a2, a3 float64
	u := 0
	for ; u+4 <= len(t); u += 4 {
		a0 += t[u] * float64(s[u])
		a1 += t[u+1] * float64(s[u+1])
		a2 += t[u+2] * float64(s[u+2])
		a3 += t[u+3] * float64(s[u+3])
	}
	for ; u < len(t); u++ {
		a0 += t[u] * float64(s[u])
	}
	return float32((a0 + a1) + (a2 + a3))
}
