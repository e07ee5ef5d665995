package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LabelKind says which field of a Label is meaningful.
type LabelKind int

const (
	// LabelNone marks a clip without a label (pretraining data).
	LabelNone LabelKind = iota
	// LabelClass is an integer class index (cross-entropy).
	LabelClass
	// LabelScore is one real-valued target (regression, e.g. MOSEI sentiment).
	LabelScore
	// LabelMulti is a vector of numbers (multi-label / multi-target).
	LabelMulti
)

// String names the kind the way manifest errors mention it.
func (k LabelKind) String() string {
	switch k {
	case LabelNone:
		return "none"
	case LabelClass:
		return "class"
	case LabelScore:
		return "score"
	case LabelMulti:
		return "multi"
	}
	return "LabelKind(" + strconv.Itoa(int(k)) + ")"
}

// Label is a clip's supervised target; the trainer picks the loss from Kind.
type Label struct {
	Kind  LabelKind
	Class int
	Score float64
	Multi []float64
}

// Clip is one manifest entry with its paths resolved relative to the manifest's folder.
type Clip struct {
	ID     string
	Video  string // video file decoded with ffmpeg (frames and, without Audio, its audio track)
	Frames string // folder of PNG/JPEG frames sorted by name
	Audio  string // WAV file; overrides a video's audio track
	Split  string // "", "train", "val" or "test"
	Label  Label
	Line   int    // 1-based manifest line, 0 for clips built in code
	Source string // manifest path, so load errors can say "manifest.jsonl:12"
}

// where names the clip's origin for error messages: "manifest.jsonl:12" or the ID.
func (c Clip) where() string {
	if c.Source != "" && c.Line > 0 {
		return fmt.Sprintf("%s:%d", c.Source, c.Line)
	}
	if c.ID != "" {
		return fmt.Sprintf("clip %q", c.ID)
	}
	return "clip"
}

// Splits accepted in a manifest's "split" field.
var validSplits = map[string]bool{"": true, "train": true, "val": true, "test": true}

// manifestLine is the JSON shape of one manifest line. Meta is free-form and ignored,
// so users can keep their own fields without tripping the unknown-key check.
type manifestLine struct {
	ID     *string         `json:"id"`
	Video  string          `json:"video"`
	Frames string          `json:"frames"`
	Audio  string          `json:"audio"`
	Label  json.RawMessage `json:"label"`
	Split  string          `json:"split"`
	Meta   json.RawMessage `json:"meta"`
}

// ReadManifest parses a JSON Lines manifest. Blank lines and lines starting with '#'
// are ignored. Every problem is reported as "path:line: reason" so a user can jump
// straight to the bad entry; media files must exist when the manifest is read.
func ReadManifest(path string) ([]Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: manifest: %w", err)
	}
	defer f.Close()
	base := filepath.Dir(path)
	var clips []Clip
	ids := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		text := strings.TrimSpace(sc.Text())
		if lineNo == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		c, err := parseManifestLine([]byte(text), base)
		if err != nil {
			return nil, fmt.Errorf("data: %s:%d: %w", path, lineNo, err)
		}
		c.Line, c.Source = lineNo, path
		if c.ID == "" {
			c.ID = defaultID(c, base)
			if _, dup := ids[c.ID]; dup {
				c.ID = fmt.Sprintf("%s#%d", c.ID, lineNo)
			}
		}
		if first, dup := ids[c.ID]; dup {
			return nil, fmt.Errorf("data: %s:%d: duplicate id %q (first used on line %d)", path, lineNo, c.ID, first)
		}
		ids[c.ID] = lineNo
		clips = append(clips, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data: %s:%d: %w", path, lineNo+1, err)
	}
	if len(clips) == 0 {
		return nil, fmt.Errorf("data: %s: manifest has no clips", path)
	}
	if err := reconcileLabels(clips); err != nil {
		return nil, err
	}
	return clips, nil
}

func parseManifestLine(b []byte, base string) (Clip, error) {
	var m manifestLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return Clip{}, fmt.Errorf("bad JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return Clip{}, fmt.Errorf("field %q must be a %s, got %s", typ.Field, typ.Type, typ.Value)
		case strings.Contains(err.Error(), "unknown field"):
			return Clip{}, fmt.Errorf("%v (known keys: id, video, frames, audio, label, split, meta)", err)
		}
		return Clip{}, fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return Clip{}, errors.New("bad JSON: more than one value on the line")
	}
	c := Clip{Split: m.Split}
	if m.ID != nil {
		if *m.ID == "" {
			return Clip{}, errors.New("id is empty")
		}
		c.ID = *m.ID
	}
	if !validSplits[m.Split] {
		return Clip{}, fmt.Errorf("unknown split %q (want train, val or test)", m.Split)
	}
	if m.Video == "" && m.Frames == "" && m.Audio == "" {
		return Clip{}, errors.New("no media: need \"video\", \"frames\" or \"audio\"")
	}
	if m.Video != "" && m.Frames != "" {
		return Clip{}, errors.New("both \"video\" and \"frames\" given; use one")
	}
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(base, filepath.FromSlash(p))
	}
	for _, f := range []struct {
		key, val string
		dir      bool
		dst      *string
	}{
		{"video", m.Video, false, &c.Video},
		{"frames", m.Frames, true, &c.Frames},
		{"audio", m.Audio, false, &c.Audio},
	} {
		if f.val == "" {
			continue
		}
		p := resolve(f.val)
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return Clip{}, fmt.Errorf("%s: missing file %s", f.key, p)
		case f.dir && !st.IsDir():
			return Clip{}, fmt.Errorf("frames: %s is not a folder", p)
		case !f.dir && st.IsDir():
			return Clip{}, fmt.Errorf("%s: %s is a folder, want a file", f.key, p)
		case !f.dir && st.Size() == 0:
			return Clip{}, fmt.Errorf("%s: %s is empty (0 bytes)", f.key, p)
		}
		*f.dst = p
	}
	lab, err := parseLabel(m.Label)
	if err != nil {
		return Clip{}, err
	}
	c.Label = lab
	return c, nil
}

// parseLabel maps JSON numbers without a fraction or exponent to classes, other numbers
// to scores and arrays of numbers to multi-label vectors; anything else is an error.
func parseLabel(raw json.RawMessage) (Label, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return Label{}, nil
	}
	switch s[0] {
	case '[':
		var vals []json.RawMessage
		if err := json.Unmarshal(raw, &vals); err != nil {
			return Label{}, fmt.Errorf("label: %v", err)
		}
		if len(vals) == 0 {
			return Label{}, errors.New("label: empty list")
		}
		out := make([]float64, len(vals))
		for i, v := range vals {
			f, err := labelNumber(v)
			if err != nil {
				return Label{}, fmt.Errorf("label[%d]: %w", i, err)
			}
			out[i] = f
		}
		return Label{Kind: LabelMulti, Multi: out}, nil
	case '"', 't', 'f', '{':
		return Label{}, fmt.Errorf("label must be an int class, a float score or a list of numbers, got %s", describeJSON(s))
	}
	f, err := labelNumber(raw)
	if err != nil {
		return Label{}, fmt.Errorf("label: %w", err)
	}
	if !strings.ContainsAny(s, ".eE") {
		if f < 0 {
			return Label{}, fmt.Errorf("label: class %s is negative", s)
		}
		if f > math.MaxInt32 {
			return Label{}, fmt.Errorf("label: class %s is too large", s)
		}
		return Label{Kind: LabelClass, Class: int(f)}, nil
	}
	return Label{Kind: LabelScore, Score: f}, nil
}

func labelNumber(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return 0, fmt.Errorf("want a number, got %s", describeJSON(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("bad number %s", s)
	}
	return f, nil
}

func describeJSON(s string) string {
	switch {
	case s == "":
		return "nothing"
	case s[0] == '"':
		return "string " + s
	case s == "true" || s == "false":
		return "bool " + s
	case s[0] == '{':
		return "an object"
	case s[0] == '[':
		return "a list"
	}
	return s
}

// reconcileLabels makes a manifest's labels one kind: ints in a manifest that also has
// float scores are scores (a regression target of 1 is written "1"), and multi-label
// vectors must all have the same length. Other mixtures are errors naming the line.
func reconcileLabels(clips []Clip) error {
	first := map[LabelKind]int{}
	for i, c := range clips {
		if _, ok := first[c.Label.Kind]; !ok && c.Label.Kind != LabelNone {
			first[c.Label.Kind] = i
		}
	}
	_, hasClass := first[LabelClass]
	_, hasScore := first[LabelScore]
	if iMulti, hasMulti := first[LabelMulti]; hasMulti {
		for k, i := range first {
			if k != LabelMulti {
				return fmt.Errorf("data: %s: label is a %s but %s has a list label; use one label type per manifest",
					clips[i].where(), k, clips[iMulti].where())
			}
		}
		n := len(clips[iMulti].Label.Multi)
		for _, c := range clips {
			if c.Label.Kind == LabelMulti && len(c.Label.Multi) != n {
				return fmt.Errorf("data: %s: label has %d values but %s has %d", c.where(), len(c.Label.Multi), clips[iMulti].where(), n)
			}
		}
		return nil
	}
	if hasClass && hasScore {
		for i := range clips {
			if clips[i].Label.Kind == LabelClass {
				clips[i].Label = Label{Kind: LabelScore, Score: float64(clips[i].Label.Class)}
			}
		}
	}
	return nil
}

// defaultID is the first media path relative to the manifest folder without extension,
// which is unique in any sane layout; ReadManifest adds "#line" on collisions.
func defaultID(c Clip, base string) string {
	p := c.Video
	if p == "" {
		p = c.Frames
	}
	if p == "" {
		p = c.Audio
	}
	if rel, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(rel, "..") {
		p = rel
	}
	p = filepath.ToSlash(p)
	return strings.TrimSuffix(p, filepath.Ext(p))
}

// WriteManifest writes clips as JSON Lines with paths relative to the manifest's folder
// (absolute when they lie outside it), so the folder can be moved as a whole.
func WriteManifest(path string, clips []Clip) error {
	base := filepath.Dir(path)
	var buf bytes.Buffer
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		abs, err1 := filepath.Abs(p)
		absBase, err2 := filepath.Abs(base)
		if err1 == nil && err2 == nil {
			if r, err := filepath.Rel(absBase, abs); err == nil && !strings.HasPrefix(r, "..") {
				return filepath.ToSlash(r)
			}
			return abs
		}
		return p
	}
	for i, c := range clips {
		m := struct {
			ID     string          `json:"id,omitempty"`
			Video  string          `json:"video,omitempty"`
			Frames string          `json:"frames,omitempty"`
			Audio  string          `json:"audio,omitempty"`
			Label  json.RawMessage `json:"label,omitempty"`
			Split  string          `json:"split,omitempty"`
		}{ID: c.ID, Video: rel(c.Video), Frames: rel(c.Frames), Audio: rel(c.Audio), Split: c.Split}
		if !validSplits[c.Split] {
			return fmt.Errorf("data: write manifest %s: clip %d: unknown split %q", path, i, c.Split)
		}
		switch c.Label.Kind {
		case LabelClass:
			m.Label = json.RawMessage(strconv.Itoa(c.Label.Class))
		case LabelScore:
			// A whole-number score keeps its decimal point, or it would read back as a class.
			m.Label = json.RawMessage(formatScore(c.Label.Score))
		case LabelMulti:
			parts := make([]string, len(c.Label.Multi))
			for j, v := range c.Label.Multi {
				parts[j] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			m.Label = json.RawMessage("[" + strings.Join(parts, ",") + "]")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("data: write manifest %s: clip %d: %w", path, i, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("data: write manifest: %w", err)
	}
	return nil
}

func formatScore(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// FilterSplit returns the clips of one split ("" selects the clips without a split).
func FilterSplit(clips []Clip, split string) []Clip {
	var out []Clip
	for _, c := range clips {
		if c.Split == split {
			out = append(out, c)
		}
	}
	return out
}
