package torch_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints/torch"
)

// BenchmarkRead100MB reads a hand-assembled 104 MB zip-format state dict
// of 12 float32 tensors of 768 × 2816 (a base-size model's bulk).
func BenchmarkRead100MB(b *testing.B) {
	const rows, cols, count = 768, 2816, 12
	p := newPK().op('}', '(')
	storages := map[string][]byte{}
	data := make([]byte, rows*cols*4)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for i := 0; i < count; i++ {
		key := strconv.Itoa(i)
		p.str("layer."+key+".weight").tensor("FloatStorage", key, rows*cols, 0, []int64{rows, cols}, []int64{cols, 1})
		storages[key] = data
	}
	path := filepath.Join(b.TempDir(), "big.bin")
	file := zipArchive(p.op('u').stop(), storages)
	if err := os.WriteFile(path, file, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := torch.Read(path)
		if err != nil || len(f.Tensors) != count {
			b.Fatal(err)
		}
	}
}
