package checkpoints_test

import (
	"path/filepath"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"gorgonia.org/tensor"
)

// benchTensors is 64 MB of float32 in 16 tensors.
func benchTensors() map[string]*tensor.Dense {
	ts := map[string]*tensor.Dense{}
	for i := 0; i < 16; i++ {
		v := make([]float32, 1<<20)
		for j := range v {
			v[j] = float32(j%977) * 0.001
		}
		ts[string(rune('a'+i))] = tensor.New(tensor.WithShape(1024, 1024), tensor.WithBacking(v))
	}
	return ts
}

func BenchmarkWriteSafetensors(b *testing.B) {
	ts := benchTensors()
	p := filepath.Join(b.TempDir(), "w.safetensors")
	b.SetBytes(64 << 20)
	for i := 0; i < b.N; i++ {
		if err := checkpoints.WriteSafetensors(p, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSafetensors(b *testing.B) {
	p := filepath.Join(b.TempDir(), "w.safetensors")
	if err := checkpoints.WriteSafetensors(p, benchTensors(), nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	for i := 0; i < b.N; i++ {
		if _, _, err := checkpoints.ReadSafetensors(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteNPZ(b *testing.B) {
	ts := benchTensors()
	p := filepath.Join(b.TempDir(), "w.npz")
	b.SetBytes(64 << 20)
	for i := 0; i < b.N; i++ {
		if err := checkpoints.WriteNPZ(p, ts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadNPZ(b *testing.B) {
	p := filepath.Join(b.TempDir(), "w.npz")
	if err := checkpoints.WriteNPZ(p, benchTensors()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	for i := 0; i < b.N; i++ {
		if _, err := checkpoints.ReadNPZ(p); err != nil {
			b.Fatal(err)
		}
	}
}
