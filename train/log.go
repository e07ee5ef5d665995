package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"
	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
)

// Record is one line of metrics.jsonl: Type "train" (a logged step, values
// averaged over the steps since the previous record) or "eval" (metrics on
// the eval split at Step). Non-finite values are written as null.
type Record struct {
	Type    string             `json:"type"`
	Step    int                `json:"step"`
	Epoch   int                `json:"epoch"`
	Time    string             `json:"time"`
	Elapsed float64            `json:"elapsed_s"`
	Split   string             `json:"split,omitempty"`
	Values  map[string]float64 `json:"-"`
	// Skipped lists, in a "skipped" record, the clips a SkipBad run dropped.
	Skipped []SkippedClip `json:"-"`
}

// SkippedClip is one clip a SkipBad run could not load.
type SkippedClip struct {
	ID     string `json:"id"`
	Where  string `json:"where,omitempty"` // manifest line
	File   string `json:"file,omitempty"`
	Reason string `json:"reason"`
}

// skippedClips converts the loader's skip records.
func skippedClips(skips []data.Skip) []SkippedClip {
	out := make([]SkippedClip, len(skips))
	for i, s := range skips {
		out[i] = SkippedClip{ID: s.ID, Where: s.Where, File: s.File, Reason: s.Reason}
	}
	return out
}

// reportSkipped writes the summary of skipped clips to w.
func reportSkipped(w io.Writer, what string, skips []SkippedClip) {
	if len(skips) == 0 {
		return
	}
	fmt.Fprintf(w, "%s skipped %d clip(s) that failed to load:\n", what, len(skips))
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s %s: %s\n", s.ID, s.Where, s.File, s.Reason)
	}
}

// Record types.
const (
	RecordTrain   = "train"
	RecordEval    = "eval"
	RecordSkipped = "skipped"
)

// MarshalJSON flattens Values into the record object.
func (r Record) MarshalJSON() ([]byte, error) {
	m := map[string]interface{}{"type": r.Type, "step": r.Step, "epoch": r.Epoch, "time": r.Time, "elapsed_s": r.Elapsed}
	if r.Split != "" {
		m["split"] = r.Split
	}
	if r.Skipped != nil {
		m["skipped"] = r.Skipped
	}
	for k, v := range r.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			m[k] = nil
		} else {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// ReadMetrics parses a metrics.jsonl file (null values become NaN).
func ReadMetrics(path string) ([]Record, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(buf))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var raw map[string]interface{}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			// A run killed mid-write leaves a partial last line: skip it.
			continue
		}
		r := Record{Values: map[string]float64{}}
		for k, v := range raw {
			switch k {
			case "type":
				r.Type, _ = v.(string)
			case "time":
				r.Time, _ = v.(string)
			case "split":
				r.Split, _ = v.(string)
			case "step":
				f, _ := v.(float64)
				r.Step = int(f)
			case "epoch":
				f, _ := v.(float64)
				r.Epoch = int(f)
			case "elapsed_s":
				r.Elapsed, _ = v.(float64)
			case "skipped":
				b, _ := json.Marshal(v)
				_ = json.Unmarshal(b, &r.Skipped)
			default:
				if f, ok := v.(float64); ok {
					r.Values[k] = f
				} else if v == nil {
					r.Values[k] = math.NaN()
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// truncateMetrics drops records after step (logged by a run that was then
// interrupted before its next checkpoint), so a resumed run's file reads as
// if it had never stopped.
func truncateMetrics(path string, step int) error {
	buf, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var keep bytes.Buffer
	for _, line := range bytes.SplitAfter(buf, []byte("\n")) {
		var r struct {
			Step *int `json:"step"`
		}
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &r) != nil || r.Step == nil || *r.Step > step {
			continue
		}
		keep.Write(line)
	}
	return checkpoints.AtomicWriteFile(path, func(w io.Writer) error {
		_, err := w.Write(keep.Bytes())
		return err
	})
}

// logger prints progress and appends records to metrics.jsonl.
type logger struct {
	w       io.Writer
	bar     *pb.ProgressBar
	file    *os.File
	start   time.Time
	elapsed float64 // seconds already spent before a resume
	clock   stepClock
	total   int
}

func newLogger(o *Options, total, step int, elapsed float64) (*logger, error) {
	var f *os.File
	if o.Out != "" {
		var err error
		if f, err = os.OpenFile(filepath.Join(o.Out, MetricsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	l := &logger{w: o.Log, file: f, start: time.Now(), elapsed: elapsed, total: total}
	if useBar(o) {
		// The bar moves every step (tick); its ETA is EstimateETA's, not
		// pb's average since the start, which counts the compile step.
		l.bar = pb.New(total)
		l.bar.SetTemplateString(`{{counters . }} {{bar . }} {{percent . }} {{string . "info"}} {{string . "eta"}}`)
		l.bar.Set("eta", l.clock.status(total-step, "step"))
		l.bar.SetWriter(o.Log)
		l.bar.SetCurrent(int64(step))
		l.bar.SetRefreshRate(250 * time.Millisecond)
		l.bar.Start()
	}
	return l, nil
}

func useBar(o *Options) bool { return useBarFor(o.Log, o.Progress) }

// useBarFor says whether progress on w in mode is a bar: ProgressBar, or
// ProgressAuto on a terminal outside CI.
func useBarFor(w io.Writer, mode Progress) bool {
	switch mode {
	case ProgressBar:
		return true
	case ProgressPlain:
		return false
	}
	if os.Getenv("CI") != "" && os.Getenv("CI") != "false" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// seconds is the run's wall time including time before a resume.
func (l *logger) seconds() float64 { return l.elapsed + time.Since(l.start).Seconds() }

func (l *logger) record(r Record) error {
	if l.file == nil {
		return nil // a data-parallel rank other than 0: rank 0 writes metrics.jsonl
	}
	r.Time = time.Now().UTC().Format(time.RFC3339)
	r.Elapsed = math.Round(l.seconds()*1000) / 1000
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("train: metrics record: %w", err)
	}
	if _, err := l.file.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("train: %s: %w", l.file.Name(), err)
	}
	return nil
}

// begin marks the start of a training step (for the ETA).
func (l *logger) begin() { l.clock.begin() }

// tick reports every finished step: the bar moves and its ETA follows the
// moving average of step times (evaluations and checkpoints between steps
// are not counted as step time).
func (l *logger) tick(step int) {
	l.clock.end()
	if l.bar != nil {
		l.bar.SetCurrent(int64(step))
		l.bar.Set("eta", l.clock.status(l.total-step, "step"))
	}
}

// status shows s in place of the bar's ETA (an evaluation's progress
// inside the run) until the next step.
func (l *logger) status(s string) {
	if l.bar != nil {
		l.bar.Set("eta", s)
	}
}

// step reports a logged training step.
func (l *logger) step(step, total, epoch int, v map[string]float64) error {
	var b strings.Builder
	for _, k := range LossKeys {
		if x, ok := v[k]; ok {
			fmt.Fprintf(&b, " %s %.4f", strings.TrimSuffix(k, "_loss"), x)
		}
	}
	fmt.Fprintf(&b, " lr %.2e samples/s %.1f", v[StatLR], v[StatSamplesPerSec])
	if l.bar != nil {
		l.bar.Set("info", strings.TrimSpace(b.String()))
		l.bar.SetCurrent(int64(step))
	} else {
		eta := ""
		if d, _, ok := EstimateETA(l.clock.durs, total-step); ok && step < total {
			eta = " eta " + fmtDuration(d)
		}
		fmt.Fprintf(l.w, "step %d/%d epoch %d%s%s\n", step, total, epoch, b.String(), eta)
	}
	return l.record(Record{Type: RecordTrain, Step: step, Epoch: epoch, Values: v})
}

// eval reports an evaluation.
func (l *logger) eval(step, epoch int, split string, v map[string]float64) error {
	var b strings.Builder
	for _, k := range sortedKeys(v) {
		fmt.Fprintf(&b, " %s %.4f", k, v[k])
	}
	l.printf("eval step %d (%s):%s\n", step, split, b.String())
	return l.record(Record{Type: RecordEval, Step: step, Epoch: epoch, Split: split, Values: v})
}

// printf writes a line above the bar (or plainly).
func (l *logger) printf(format string, args ...interface{}) {
	if l.bar != nil {
		// pb redraws on its own line; a leading carriage return and wipe keep the text clean.
		fmt.Fprintf(l.w, "\r\033[K"+format, args...)
		return
	}
	fmt.Fprintf(l.w, format, args...)
}

func (l *logger) close() error {
	if l.bar != nil {
		l.bar.Finish()
	}
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// etaWindow is how many recent step (or batch) times the ETA averages.
const etaWindow = 20

// EstimateETA is the time left for remaining more steps given the
// durations of the steps done so far, in order. The first duration is
// left out (the first step compiles the graphs and takes many times
// longer than the others), and the estimate is the mean of the last
// etaWindow others (a moving average, so it follows a run whose pace
// changes) times remaining. ok is false until a step besides the first
// has been timed.
func EstimateETA(durs []time.Duration, remaining int) (eta, perStep time.Duration, ok bool) {
	if len(durs) < 2 {
		return 0, 0, false
	}
	recent := durs[1:]
	if len(recent) > etaWindow {
		recent = recent[len(recent)-etaWindow:]
	}
	var sum time.Duration
	for _, d := range recent {
		sum += d
	}
	perStep = sum / time.Duration(len(recent))
	return perStep * time.Duration(max(remaining, 0)), perStep, true
}

// stepClock times steps for EstimateETA, keeping the first duration and
// the last etaWindow others.
type stepClock struct {
	begun time.Time
	durs  []time.Duration
}

// begin marks the start of a step.
func (c *stepClock) begin() { c.begun = time.Now() }

// end times the step begun last.
func (c *stepClock) end() {
	if c.begun.IsZero() {
		return
	}
	c.durs = append(c.durs, time.Since(c.begun))
	if len(c.durs) > etaWindow+1 {
		c.durs = append(c.durs[:1], c.durs[len(c.durs)-etaWindow:]...)
	}
	c.begun = time.Time{}
}

// status is "compiling" before the first step is timed, then the step
// time and the ETA for remaining steps.
func (c *stepClock) status(remaining int, unit string) string {
	eta, per, ok := EstimateETA(c.durs, remaining)
	switch {
	case len(c.durs) == 0:
		return "compiling…"
	case !ok:
		return "ETA after the next " + unit
	}
	return fmt.Sprintf("%s/%s ETA %s", fmtDuration(per), unit, fmtDuration(eta))
}

// fmtDuration prints 0.42s, 12s, 3m05s or 2h04m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// plainPhaseEvery is how often a phase in plain mode prints a line (and
// how long it runs before its first one, so quick phases stay silent).
const plainPhaseEvery = 10 * time.Second

// phase reports the progress of a long loop outside the training steps
// (an evaluation, the demo's evaluations): a pb bar on a terminal, a line
// every plainEvery in plain mode, or status strings handed to onStatus (an
// evaluation inside a training run, shown in the run's bar). A nil *phase
// reports nothing.
type phase struct {
	label       string
	unit        string
	total, done int
	w           io.Writer
	bar         *pb.ProgressBar
	onStatus    func(string)
	clock       stepClock
	start, line time.Time
	plainEvery  time.Duration
}

// newPhase starts a phase of total units; w nil (or io.Discard) and no
// onStatus give a nil phase.
func newPhase(w io.Writer, mode Progress, onStatus func(string), label, unit string, total int) *phase {
	if onStatus == nil && (w == nil || w == io.Discard) {
		return nil
	}
	p := &phase{label: label, unit: unit, total: total, w: w, onStatus: onStatus, start: time.Now(), plainEvery: plainPhaseEvery}
	p.line = p.start
	if onStatus == nil && useBarFor(w, mode) {
		p.bar = pb.New(total)
		p.bar.SetTemplateString(`{{string . "label"}} {{counters . }} {{bar . }} {{percent . }} {{string . "eta"}}`)
		p.bar.Set("label", label)
		p.bar.Set("eta", p.clock.status(total, unit))
		p.bar.SetWriter(w)
		p.bar.SetRefreshRate(250 * time.Millisecond)
		p.bar.Start()
	}
	p.clock.begin()
	p.report()
	return p
}

// add counts n units done (one batch) and updates the display.
func (p *phase) add(n int) {
	if p == nil {
		return
	}
	p.clock.end()
	p.done += n
	p.report()
	p.clock.begin()
}

func (p *phase) report() {
	st := p.clock.status(p.total-p.done, p.unit)
	switch {
	case p.onStatus != nil:
		p.onStatus(fmt.Sprintf("%s %d/%d %s", p.label, p.done, p.total, st))
	case p.bar != nil:
		p.bar.Set("eta", st)
		p.bar.SetCurrent(int64(p.done))
	case p.done > 0 && time.Since(p.line) >= p.plainEvery:
		p.line = time.Now()
		fmt.Fprintf(p.w, "%s: %d/%d, %s\n", p.label, p.done, p.total, st)
	}
}

// finish closes the bar (a plain phase that printed progress says it is done).
func (p *phase) finish() {
	if p == nil {
		return
	}
	switch {
	case p.bar != nil:
		p.bar.SetCurrent(int64(p.total))
		p.bar.Set("eta", "done in "+fmtDuration(time.Since(p.start)))
		p.bar.Finish()
	case p.onStatus == nil && p.line != p.start:
		fmt.Fprintf(p.w, "%s: done in %s\n", p.label, fmtDuration(time.Since(p.start)))
	}
}
