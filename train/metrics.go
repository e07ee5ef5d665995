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
	MetricMeanWeightedAccuracy   = "mean_weighted_accuracy" // multilabel: mean over labels of weighted_accuracy/<i>
	MetricMeanF1                 = "mean_f1"                // multilabel: mean over labels of f1/<i>
	MetricVQAScore               = "vqa_score"              // vqa: mean target score of the predicted answer
	MetricSkippedClips           = "skipped_clips"          // SkipBad: clips an evaluation could not load

	// Training bookkeeping, logged with the losses but not model quality.
	StatLR            = "lr"
	StatGradNorm      = "grad_norm" // before clipping
	StatSamplesPerSec = "samples_per_s"
	// Pretraining: the share of the tokens the MAE masks removed that are
	// real (not padding); with the reference's masking short clips in a
	// long batch lose mostly padding.
	StatPixelMaskRealShare = "pixel_mask_real_share"
	StatAudioMaskRealShare = "audio_mask_real_share"
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
	case TaskMultilabel:
		return []string{MetricLoss, MetricMeanWeightedAccuracy, MetricMeanF1} // and per label: WeightedAccuracyKey(i), F1Key(i)
	case TaskVQA:
		return []string{MetricLoss, MetricVQAScore}
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

// WeightedAccuracyKey and F1Key name label i's multilabel metrics:
// "weighted_accuracy/3", "f1/3".
func WeightedAccuracyKey(i int) string { return fmt.Sprintf("weighted_accuracy/%d", i) }

// F1Key: see WeightedAccuracyKey.
func F1Key(i int) string { return fmt.Sprintf("f1/%d", i) }

// binaryCounts counts one label's confusion matrix: a prediction is
// positive when its logit is > 0, a label when it is > 0 (the original
// TVLT's MOSEI emotion metrics: true_label = truth > 0, predicted = preds > 0).
func binaryCounts(logit, label []float64) (tp, fp, tn, fn int, err error) {
	if len(logit) != len(label) {
		return 0, 0, 0, 0, fmt.Errorf("train: binary metrics: %d predictions for %d labels", len(logit), len(label))
	}
	for i := range logit {
		switch p, l := logit[i] > 0, label[i] > 0; {
		case p && l:
			tp++
		case p:
			fp++
		case l:
			fn++
		default:
			tn++
		}
	}
	return tp, fp, tn, fn, nil
}

// WeightedAccuracy is the original TVLT's (and MulT's) weighted accuracy of
// one binary label, (TP·N/P + TN) / (2N) with P positive and N negative
// labels, which is the mean of the true-positive and true-negative rates.
// When the labels have one class only, it is that class's rate (the
// formula divides by zero there); NaN without labels.
func WeightedAccuracy(logit, label []float64) (float64, error) {
	tp, fp, tn, fn, err := binaryCounts(logit, label)
	if err != nil {
		return 0, err
	}
	p, n := float64(tp+fn), float64(tn+fp)
	switch {
	case p > 0 && n > 0:
		return (float64(tp)*n/p + float64(tn)) / (2 * n), nil
	case p > 0:
		return float64(tp) / p, nil
	case n > 0:
		return float64(tn) / n, nil
	}
	return math.NaN(), nil
}

// BinaryF1 is the F1 of the positive class, 2TP / (2TP + FP + FN)
// (sklearn's f1_score with average="binary"); 0 when there is neither a
// positive label nor a positive prediction (sklearn's zero_division
// default), NaN without labels.
func BinaryF1(logit, label []float64) (float64, error) {
	tp, fp, _, fn, err := binaryCounts(logit, label)
	if err != nil {
		return 0, err
	}
	if len(logit) == 0 {
		return math.NaN(), nil
	}
	if d := 2*tp + fp + fn; d > 0 {
		return 2 * float64(tp) / float64(d), nil
	}
	return 0, nil
}

// MultilabelMetrics computes, from logits and labels (rows of k values,
// one per clip), every label's WeightedAccuracy and BinaryF1
// (WeightedAccuracyKey(i), F1Key(i)) and their means over the labels
// (mean_weighted_accuracy, mean_f1).
func MultilabelMetrics(logits, labels [][]float64, k int) (map[string]float64, error) {
	if len(logits) != len(labels) {
		return nil, fmt.Errorf("train: multilabel metrics: %d predictions for %d labels", len(logits), len(labels))
	}
	for i := range logits {
		if len(logits[i]) != k || len(labels[i]) != k {
			return nil, fmt.Errorf("train: multilabel metrics: clip %d has %d logits and %d labels, want %d", i, len(logits[i]), len(labels[i]), k)
		}
	}
	met := map[string]float64{}
	var sumWA, sumF1 float64
	col := func(rows [][]float64, j int) []float64 {
		out := make([]float64, len(rows))
		for i, r := range rows {
			out[i] = r[j]
		}
		return out
	}
	for j := 0; j < k; j++ {
		x, y := col(logits, j), col(labels, j)
		wa, _ := WeightedAccuracy(x, y)
		f1, _ := BinaryF1(x, y)
		met[WeightedAccuracyKey(j)], met[F1Key(j)] = wa, f1
		sumWA += wa
		sumF1 += f1
	}
	met[MetricMeanWeightedAccuracy] = sumWA / float64(k)
	met[MetricMeanF1] = sumF1 / float64(k)
	return met, nil
}

// VQAScore is the VQA accuracy of answer classification: for every clip the
// target score of its highest-scoring answer (argmax of the logits, the
// first on ties), averaged over the clips.
func VQAScore(logits, targets [][]float64) (float64, error) {
	if len(logits) != len(targets) {
		return 0, fmt.Errorf("train: VQA score: %d predictions for %d targets", len(logits), len(targets))
	}
	if len(logits) == 0 {
		return math.NaN(), nil
	}
	var s float64
	for i, row := range logits {
		if len(row) != len(targets[i]) || len(row) == 0 {
			return 0, fmt.Errorf("train: VQA score: clip %d has %d logits and %d targets", i, len(row), len(targets[i]))
		}
		s += targets[i][argmax(row)]
	}
	return s / float64(len(logits)), nil
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
