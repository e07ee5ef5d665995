package optim

import (
	"fmt"
	"testing"
)

// benchParams builds n parameters worth of 1024x1024 matrices plus a remainder
// tensor and a bias, roughly the mix of a transformer.
func benchParams(n int) []Param {
	var shapes [][]int
	for n >= 1<<20 {
		shapes = append(shapes, []int{1024, 1024})
		n -= 1 << 20
	}
	if n > 1024 {
		shapes = append(shapes, []int{n - 1024})
		n = 1024
	}
	shapes = append(shapes, []int{n})
	params := make([]Param, len(shapes))
	for i, s := range shapes {
		m := numel(s)
		params[i] = Param{Name: fmt.Sprintf("p%d", i), Shape: s, Value: make([]float32, m), Grad: make([]float32, m)}
		for j := range params[i].Grad {
			params[i].Value[j] = float32(j%97) * 1e-3
			params[i].Grad[j] = float32(j%89-44) * 1e-4
		}
	}
	return params
}

func benchSizes(b *testing.B, fn func(b *testing.B, params []Param)) {
	for _, size := range []struct {
		name string
		n    int
	}{{"7M", 7_000_000}, {"86M", 86_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			if testing.Short() && size.n > 10_000_000 {
				b.Skip("large benchmark skipped in -short mode")
			}
			params := benchParams(size.n)
			b.SetBytes(int64(size.n) * 4)
			b.ResetTimer()
			fn(b, params)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size.n), "ns/param")
		})
	}
}

func BenchmarkAdamWStep(b *testing.B) {
	benchSizes(b, func(b *testing.B, params []Param) {
		b.StopTimer()
		opt, err := NewAdamW(params, DefaultAdamWConfig())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			if err := opt.Step(1e-4); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClipGradNorm(b *testing.B) {
	benchSizes(b, func(b *testing.B, params []Param) {
		for i := 0; i < b.N; i++ {
			ClipGradNorm(params, 1e9)
		}
	})
}

func BenchmarkAccumulatorAdd(b *testing.B) {
	benchSizes(b, func(b *testing.B, params []Param) {
		b.StopTimer()
		acc, err := NewAccumulator(params)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			if err := acc.Add(params, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
