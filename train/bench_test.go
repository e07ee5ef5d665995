package train

import "testing"

func TestBenchTiny(t *testing.T) {
	cfg, _ := Preset("tiny")
	for _, task := range []string{"pretrain", "finetune", "infer"} {
		r, err := Bench(cfg, task, 2, 3, 1)
		if err != nil {
			t.Fatalf("%s: %v", task, err)
		}
		if r.MsMedian <= 0 || r.MsMin > r.MsMedian || r.SamplesPerSec <= 0 || r.PeakRSSMB <= 0 || r.Steps != 3 || r.BLAS == "" || r.GFlopsPerSec <= 0 {
			t.Errorf("%s: implausible result %+v", task, r)
		}
	}
	if _, err := Bench(cfg, "dance", 2, 3, 1); err == nil {
		t.Error("unknown task accepted")
	}
}
