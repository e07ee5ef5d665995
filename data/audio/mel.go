package audio

import "math"

// hzToMelSlaney is the Slaney (Auditory Toolbox) mel scale used by the
// reference: linear below 1 kHz, logarithmic above.
func hzToMelSlaney(f float64) float64 {
	const minLogHz, minLogMel = 1000.0, 15.0
	if f >= minLogHz {
		return minLogMel + math.Log(f/minLogHz)*(27.0/math.Log(6.4))
	}
	return 3.0 * f / 200.0
}

// melToHzSlaney inverts hzToMelSlaney.
func melToHzSlaney(m float64) float64 {
	const minLogHz, minLogMel = 1000.0, 15.0
	if m >= minLogMel {
		return minLogHz * math.Exp((math.Log(6.4)/27.0)*(m-minLogMel))
	}
	return 200.0 * m / 3.0
}

// linspace reproduces numpy.linspace(start, stop, n) (endpoint included):
// start + i*step, with the last element set to stop exactly.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	out[n-1] = stop
	return out
}

// melFilterBank builds the (nMels, nBins) Slaney-normalised triangular
// filters of transformers.audio_utils.mel_filter_bank(norm="slaney",
// mel_scale="slaney"), row-major, in float64 as the reference does.
// The FFT bin centres follow the reference: linspace(0, sampleRate//2, nBins).
func melFilterBank(nBins, nMels int, fMin, fMax float64, sampleRate int) []float64 {
	melFreqs := linspace(hzToMelSlaney(fMin), hzToMelSlaney(fMax), nMels+2)
	filterFreqs := make([]float64, len(melFreqs))
	for i, m := range melFreqs {
		filterFreqs[i] = melToHzSlaney(m)
	}
	fftFreqs := linspace(0, float64(sampleRate/2), nBins)
	w := make([]float64, nMels*nBins)
	for m := 0; m < nMels; m++ {
		lo, mid, hi := filterFreqs[m], filterFreqs[m+1], filterFreqs[m+2]
		enorm := 2.0 / (hi - lo)
		for k, f := range fftFreqs {
			down := -(lo - f) / (mid - lo)
			up := (hi - f) / (hi - mid)
			v := math.Max(0, math.Min(down, up))
			w[m*nBins+k] = v * enorm
		}
	}
	return w
}

// periodicHann is numpy.hanning(n+1)[:-1], the window the reference uses.
func periodicHann(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
	}
	return w
}
