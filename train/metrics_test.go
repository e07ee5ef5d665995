package train

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 || (math.IsNaN(a) && math.IsNaN(b)) }

// The expected values below were worked out by hand (see each comment).
func TestClassMetrics(t *testing.T) {
	cases := []struct {
		name        string
		pred, label []int
		acc, f1     float64
	}{
		// class 0: tp1 → F1 1; class 1: tp2 fn1 → 4/5; class 2: fp1 → 0.
		{"three classes", []int{0, 1, 2, 1}, []int{0, 1, 1, 1}, 0.75, 1.8 / 3},
		{"perfect", []int{1, 0, 1}, []int{1, 0, 1}, 1, 1},
		// class 0: tp0 fp2 fn0 → 0; class 1: fn2 → 0.
		{"all wrong", []int{0, 0}, []int{1, 1}, 0, 0},
		// class 0: tp1 fp1 → 2/3; class 1: tp1 fn1 → 2/3.
		{"binary", []int{0, 0, 1}, []int{0, 1, 1}, 2.0 / 3, 2.0 / 3},
	}
	for _, c := range cases {
		acc, err := Accuracy(c.pred, c.label)
		if err != nil || !near(acc, c.acc) {
			t.Errorf("%s: accuracy %v (%v), want %v", c.name, acc, err, c.acc)
		}
		f1, err := MacroF1(c.pred, c.label)
		if err != nil || !near(f1, c.f1) {
			t.Errorf("%s: macro F1 %v (%v), want %v", c.name, f1, err, c.f1)
		}
	}
	if _, err := Accuracy([]int{1}, nil); err == nil {
		t.Error("accuracy accepted mismatched lengths")
	}
}

func TestRegressionMetrics(t *testing.T) {
	mae, _ := MeanAbsError([]float64{1, 2, 3}, []float64{1.5, 2, 1})
	if !near(mae, 2.5/3) {
		t.Errorf("MAE %v, want %v", mae, 2.5/3)
	}
	// dx = -1.5 -.5 .5 1.5, dy = -3 -1 0 4: sxy 11, sxx 5, syy 26.
	r, _ := Pearson([]float64{1, 2, 3, 4}, []float64{2, 4, 5, 9})
	if !near(r, 11/math.Sqrt(130)) {
		t.Errorf("Pearson %v, want %v", r, 11/math.Sqrt(130))
	}
	r, _ = Pearson([]float64{1, 1, 1}, []float64{1, 2, 3})
	if !math.IsNaN(r) {
		t.Errorf("Pearson of a constant %v, want NaN", r)
	}
	r, _ = Pearson([]float64{3, 2, 1}, []float64{1, 2, 3})
	if !near(r, -1) {
		t.Errorf("Pearson of reversed %v, want -1", r)
	}
	// Non-zero labels 1, -2, -1: right, right, wrong → 2/3. With zero: ok, ok,
	// no, no (-0.2 vs 0), ok (0.1 vs 0) → 3/5.
	nz, wz, _ := BinaryAccuracyBySign([]float64{0.5, -1, 2, -0.2, 0.1}, []float64{1, -2, -1, 0, 0})
	if !near(nz, 2.0/3) || !near(wz, 0.6) {
		t.Errorf("binary accuracy %v/%v, want 2/3 and 0.6", nz, wz)
	}
}

func TestRecallAtK(t *testing.T) {
	score := [][]float64{
		{0.9, 0.1, 0.2}, // true first: rank 0
		{0.5, 0.3, 0.4}, // two higher: rank 2
		{0.7, 0.8, 0.7}, // one higher, one tie (counted against): rank 2
	}
	r, err := RecallAtK(score, []int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[int]float64{1: 1.0 / 3, 2: 1.0 / 3, 3: 1} {
		if !near(r[k], want) {
			t.Errorf("R@%d = %v, want %v", k, r[k], want)
		}
	}
	// Columns as queries: [.9 .5 .7] rank 0, [.1 .3 .8] rank 1, [.2 .4 .7] rank 0.
	r, _ = RecallAtK(transpose(score), []int{1, 2})
	if !near(r[1], 2.0/3) || !near(r[2], 1) {
		t.Errorf("transposed R@1/R@2 = %v/%v, want 2/3 and 1", r[1], r[2])
	}
	if _, err := RecallAtK([][]float64{{1, 2}}, []int{1}); err == nil {
		t.Error("non-square scores accepted")
	}
}

// TestMultilabelMetrics checks weighted accuracy and F1 per label and their
// means on a fixture worked out by hand.
func TestMultilabelMetrics(t *testing.T) {
	logits := [][]float64{{1, -1}, {-1, 1}, {2, 1}, {-3, 1}, {0.5, -1}}
	labels := [][]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0.5}, {0, 0}}
	met, err := MultilabelMetrics(logits, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		// label 0: P=2 N=3; predicted positive: clips 0, 2, 4 → TP 1, FN 1,
		// FP 2, TN 1: WA = (1·3/2 + 1)/(2·3) = 5/12; F1 = 2/(2+2+1) = 0.4.
		"weighted_accuracy/0": 5.0 / 12, "f1/0": 0.4,
		// label 1: 0.5 counts as positive: P=3 N=2, all right: WA 1, F1 1.
		"weighted_accuracy/1": 1, "f1/1": 1,
		"mean_weighted_accuracy": (5.0/12 + 1) / 2, "mean_f1": 0.7,
	}
	if len(met) != len(want) {
		t.Errorf("metrics %v, want the keys of %v", met, want)
	}
	for k, v := range want {
		if !near(met[k], v) {
			t.Errorf("%s = %v, want %v", k, met[k], v)
		}
	}
	// One class only: the weighted accuracy is that class's rate; F1 with
	// no true positive is 0.
	if wa, _ := WeightedAccuracy([]float64{1, -1, -1}, []float64{0, 0, 0}); !near(wa, 2.0/3) {
		t.Errorf("all-negative weighted accuracy %v, want 2/3", wa)
	}
	if wa, _ := WeightedAccuracy([]float64{1, -1, 1, 1}, []float64{1, 1, 1, 1}); !near(wa, 0.75) {
		t.Errorf("all-positive weighted accuracy %v, want 3/4", wa)
	}
	if f1, _ := BinaryF1([]float64{-1, -2}, []float64{0, 0}); f1 != 0 {
		t.Errorf("F1 without positives %v, want 0", f1)
	}
	if _, err := MultilabelMetrics(logits, labels[:4], 2); err == nil {
		t.Error("accepted 5 predictions for 4 labels")
	}
}

// TestVQAScore: the target score of each clip's argmax answer (the first on
// ties), averaged: (0.3 + 1 + 0.6)/3.
func TestVQAScore(t *testing.T) {
	logits := [][]float64{{0.1, 2, -1}, {3, 0, 0}, {0, 0, 0}}
	targets := [][]float64{{0, 0.3, 1}, {1, 0, 0}, {0.6, 0.9, 0}}
	s, err := VQAScore(logits, targets)
	if err != nil || !near(s, 1.9/3) {
		t.Errorf("VQA score %v (%v), want %v", s, err, 1.9/3)
	}
	if _, err := VQAScore(logits, targets[:2]); err == nil {
		t.Error("accepted 3 predictions for 2 targets")
	}
}
