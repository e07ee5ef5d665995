package train

import (
	"fmt"
	"math"
	"sort"
)

// Names of the values a run reports: the keys of metrics.jsonl records,
// Summary.Train/Eval, trainer_state.json and Evaluate's map. The losses
// are also the names of the model outputs they are read from.
const (
	MetricLoss             = "loss"           // total loss (every task)
	MetricMatchingLoss     = "matching_loss"  // pretraining: audio-video matching BCE
	MetricPixelMAELoss     = "pixel_mae_loss" // pretraining: MSE on removed video patches
	MetricAudioMAELoss     = "audio_mae_loss" // pretraining: MSE on removed audio patches
	MetricMatchingAccuracy = "matching_accuracy"

	MetricAccuracy               = "accuracy" // classification
	MetricMacroF1                = "macro_f1"
	MetricMAE                    = "mae" // regression
	MetricPearson                = "pearson"
	MetricBinaryAccuracy         = "binary_accuracy"
	MetricBinaryAccuracyWithZero = "binary_accuracy_with_zero"
	MetricRecallMean             = "recall_mean" // retrieval: mean of the six recalls
	MetricPairAccuracy           = "pair_accuracy"

	// Training bookkeeping, logged with the losses but not model quality.
	StatLR            = "lr"
	StatGradNorm      = "grad_norm" // before clipping
	StatSamplesPerSec = "samples_per_s"
)

// LossKeys are the losses a training step or a pretraining evaluation can
// report, in the order they are printed and plotted: the total first, then
// matching, pixel MAE and audio MAE.
var LossKeys = []string{MetricLoss, MetricMatchingLoss, MetricPixelMAELoss, MetricAudioMAELoss}

// TrainStats are the bookkeeping values of training records.
var TrainStats = []string{StatLR, StatGradNorm, StatSamplesPerSec}

// Directions of the retrieval recalls: audio query against every video,
// video query against every audio.
const metricAudioToVideo, metricVideoToAudio = "a2v", "v2a"

// recallKs are the k of the retrieval recalls a2v_r<k> and v2a_r<k>.
var recallKs = []int{1, 5, 10}

// recallMetric names the Recall@k of one direction (metricAudioToVideo or
// metricVideoToAudio): "a2v_r1".
func recallMetric(dir string, k int) string { return fmt.Sprintf("%s_r%d", dir, k) }

// EvalMetrics lists the metrics Evaluate can report for a task (a
// pretraining model reports the losses of the objectives it has).
func EvalMetrics(t Task) []string {
	switch t {
	case TaskClassification:
		return []string{MetricLoss, MetricAccuracy, MetricMacroF1}
	case TaskRegression:
		return []string{MetricLoss, MetricMAE, MetricPearson, MetricBinaryAccuracy, MetricBinaryAccuracyWithZero}
	case TaskRetrieval:
		var out []string
		for _, dir := range []string{metricAudioToVideo, metricVideoToAudio} {
			for _, k := range recallKs {
				out = append(out, recallMetric(dir, k))
			}
		}
		return append(out, MetricRecallMean, MetricPairAccuracy)
	}
	return append(append([]string(nil), LossKeys...), MetricMatchingAccuracy)
}

// Accuracy is the share of predictions equal to their label.
func Accuracy(pred, label []int) (float64, error) {
	if len(pred) != len(label) {
		return 0, fmt.Errorf("train: accuracy: %d predictions for %d labels", len(pred), len(label))
	}
	if len(pred) == 0 {
		return math.NaN(), nil
	}
	ok := 0
	for i := range pred {
		if pred[i] == label[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred)), nil
}

// MacroF1 averages the per-class F1 over the classes that occur in the labels
// or the predictions (sklearn's f1_score(average="macro") with its default
// labels); a class with no true positives scores 0.
func MacroF1(pred, label []int) (float64, error) {
	if len(pred) != len(label) {
		return 0, fmt.Errorf("train: macro F1: %d predictions for %d labels", len(pred), len(label))
	}
	if len(pred) == 0 {
		return math.NaN(), nil
	}
	tp, fp, fn := map[int]int{}, map[int]int{}, map[int]int{}
	classes := map[int]bool{}
	for i := range pred {
		classes[pred[i]], classes[label[i]] = true, true
		if pred[i] == label[i] {
			tp[pred[i]]++
		} else {
			fp[pred[i]]++
			fn[label[i]]++
		}
	}
	sum := 0.0
	for c := range classes {
		if d := 2*tp[c] + fp[c] + fn[c]; d > 0 {
			sum += 2 * float64(tp[c]) / float64(d)
		}
	}
	return sum / float64(len(classes)), nil
}

// MeanAbsError is the mean of |pred - label|.
func MeanAbsError(pred, label []float64) (float64, error) {
	if len(pred) != len(label) {
		return 0, fmt.Errorf("train: MAE: %d predictions for %d labels", len(pred), len(label))
	}
	if len(pred) == 0 {
		return math.NaN(), nil
	}
	s := 0.0
	for i := range pred {
		s += math.Abs(pred[i] - label[i])
	}
	return s / float64(len(pred)), nil
}

// Pearson is the sample correlation of pred and label; NaN when either is
// constant (undefined, as in scipy).
func Pearson(pred, label []float64) (float64, error) {
	if len(pred) != len(label) {
		return 0, fmt.Errorf("train: Pearson: %d predictions for %d labels", len(pred), len(label))
	}
	n := float64(len(pred))
	if n < 2 {
		return math.NaN(), nil
	}
	var mx, my float64
	for i := range pred {
		mx += pred[i]
		my += label[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range pred {
		dx, dy := pred[i]-mx, label[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN(), nil
	}
	return sxy / math.Sqrt(sxx*syy), nil
}

// BinaryAccuracyBySign is MOSEI's Acc-2 in its usual "non-zero" form:
// clips whose label is exactly 0 are left out, and a prediction is right
// when pred > 0 agrees with label > 0. WithZero is the other convention
// (all clips, negative vs non-negative: pred >= 0 agrees with label >= 0).
func BinaryAccuracyBySign(pred, label []float64) (nonZero, withZero float64, err error) {
	if len(pred) != len(label) {
		return 0, 0, fmt.Errorf("train: binary accuracy: %d predictions for %d labels", len(pred), len(label))
	}
	var okNZ, nNZ, okAll int
	for i := range pred {
		if (pred[i] >= 0) == (label[i] >= 0) {
			okAll++
		}
		if label[i] != 0 {
			nNZ++
			if (pred[i] > 0) == (label[i] > 0) {
				okNZ++
			}
		}
	}
	nonZero, withZero = math.NaN(), math.NaN()
	if nNZ > 0 {
		nonZero = float64(okNZ) / float64(nNZ)
	}
	if len(pred) > 0 {
		withZero = float64(okAll) / float64(len(pred))
	}
	return nonZero, withZero, nil
}

// RecallAtK ranks, for every query i, all candidates by score[i][j]
// (higher is better) and returns the share of queries whose true candidate
// (j = i) is among the top k of each k in ks. Ties are broken against the
// true candidate (it ranks after every candidate with an equal score), so a
// constant scorer gets no credit.
func RecallAtK(score [][]float64, ks []int) (map[int]float64, error) {
	n := len(score)
	for i, row := range score {
		if len(row) != n {
			return nil, fmt.Errorf("train: recall: score row %d has %d entries, want %d", i, len(row), n)
		}
	}
	out := map[int]float64{}
	if n == 0 {
		for _, k := range ks {
			out[k] = math.NaN()
		}
		return out, nil
	}
	ranks := make([]int, n)
	for i, row := range score {
		r := 0
		for j, s := range row {
			if j != i && !(s < row[i]) {
				r++
			}
		}
		ranks[i] = r // 0 = first
	}
	for _, k := range ks {
		hit := 0
		for _, r := range ranks {
			if r < k {
				hit++
			}
		}
		out[k] = float64(hit) / float64(n)
	}
	return out, nil
}

// transpose returns the column-major view of a square score matrix, which
// turns audio→video ranking into video→audio ranking.
func transpose(s [][]float64) [][]float64 {
	n := len(s)
	t := make([][]float64, n)
	for j := range t {
		t[j] = make([]float64, n)
		for i := range s {
			t[j][i] = s[i][j]
		}
	}
	return t
}

// argmax returns the index of the largest value (the first on ties).
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// sortedKeys lists a metric map's keys in order, for stable output.
func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
