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
}

// Record types.
const (
	RecordTrain = "train"
	RecordEval  = "eval"
)

// MarshalJSON flattens Values into the record object.
func (r Record) MarshalJSON() ([]byte, error) {
	m := map[string]interface{}{"type": r.Type, "step": r.Step, "epoch": r.Epoch, "time": r.Time, "elapsed_s": r.Elapsed}
	if r.Split != "" {
		m["split"] = r.Split
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
}

func newLogger(o *Options, total, step int, elapsed float64) (*logger, error) {
	f, err := os.OpenFile(filepath.Join(o.Out, MetricsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	l := &logger{w: o.Log, file: f, start: time.Now(), elapsed: elapsed}
	if useBar(o) {
		l.bar = pb.New(total)
		l.bar.SetTemplateString(`{{counters . }} {{bar . }} {{percent . }} {{string . "info"}} {{rtime . "ETA %s"}}`)
		l.bar.SetWriter(o.Log)
		l.bar.SetCurrent(int64(step))
		l.bar.SetRefreshRate(250 * time.Millisecond)
		l.bar.Start()
	}
	return l, nil
}

func useBar(o *Options) bool {
	switch o.Progress {
	case ProgressBar:
		return true
	case ProgressPlain:
		return false
	}
	if os.Getenv("CI") != "" && os.Getenv("CI") != "false" {
		return false
	}
	f, ok := o.Log.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// seconds is the run's wall time including time before a resume.
func (l *logger) seconds() float64 { return l.elapsed + time.Since(l.start).Seconds() }

func (l *logger) record(r Record) error {
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
		fmt.Fprintf(l.w, "step %d/%d epoch %d%s\n", step, total, epoch, b.String())
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
	return l.file.Close()
}
