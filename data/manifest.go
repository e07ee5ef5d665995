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
	"sort"
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
	// LabelAnswers is a list of (answer id, score) pairs: VQA-style soft
	// answer targets, written [[3, 1.0], [7, 0.3]].
	LabelAnswers
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
	case LabelAnswers:
		return "answers"
	}
	return "LabelKind(" + strconv.Itoa(int(k)) + ")"
}

// Label is a clip's supervised target; the trainer picks the loss from Kind.
type Label struct {
	Kind    LabelKind
	Class   int
	Score   float64
	Multi   []float64
	Answers []Answer // LabelAnswers: distinct ids, in the manifest's order
}

// Answer is one soft answer target: an index into the answer vocabulary
// and its score (VQA: the share of annotators giving it, in [0, 1]).
type Answer struct {
	ID    int
	Score float64
}

// Clip is one manifest entry with its paths resolved relative to the manifest's folder.
type Clip struct {
	ID     string
	Video  string // video file decoded with ffmpeg (frames and, without Audio, its audio track)
	Frames string // folder of PNG/JPEG frames sorted by name
	Audio  string // WAV file; overrides a video's audio track
	Split  string // "", "train", "val" or "test"
	Label  Label
	// Start and End cut a segment out of Video and Audio, in seconds from the
	// files' start: frames and samples at times t with Start <= t < End, as if
	// the segment were a file of its own. End 0 is the end of the file, so
	// the zero values mean the whole file.
	Start, End float64
	// Meta holds the manifest line's other keys with their JSON values
	// (compacted), e.g. Meta["speaker"] = `"spk03"`; nil when there are none.
	// WriteManifest writes them back.
	Meta   map[string]json.RawMessage
	Line   int    // 1-based manifest line, 0 for clips built in code
	Source string // manifest path, so load errors can say "manifest.jsonl:12"
}

// IsSegment reports whether the clip is a part of its files (Start or End not 0).
func (c Clip) IsSegment() bool { return c.Start != 0 || c.End != 0 }

// segmentString describes the clip's segment for IDs and messages: "1.5-3", "1.5-end".
func (c Clip) segmentString() string {
	end := "end"
	if c.End > 0 {
		end = strconv.FormatFloat(c.End, 'g', -1, 64)
	}
	return strconv.FormatFloat(c.Start, 'g', -1, 64) + "-" + end
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

// manifestLine is the JSON shape of one manifest line. Keys other than these go
// to Clip.Meta. "meta" is an older spelling of free-form data: accepted and ignored.
type manifestLine struct {
	ID     *string         `json:"id"`
	Video  string          `json:"video"`
	Frames string          `json:"frames"`
	Audio  string          `json:"audio"`
	Label  json.RawMessage `json:"label"`
	Split  string          `json:"split"`
	Start  json.RawMessage `json:"start"`
	End    json.RawMessage `json:"end"`
	Meta   json.RawMessage `json:"meta"`
}

// manifestKeys are manifestLine's keys, in the order error messages list them.
var manifestKeys = []string{"id", "video", "frames", "audio", "label", "split", "start", "end", "meta"}

// isManifestKey reports whether key is one of manifestKeys, ignoring case as
// encoding/json does when it fills manifestLine.
func isManifestKey(key string) bool {
	for _, k := range manifestKeys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// typoOf returns the manifest key that key is probably a misspelling of: one
// edit away (insertion, deletion, substitution or swap of two adjacent
// letters, ignoring case), or "". Two-letter keys ("id") are left out: one
// edit of them gives ordinary words ("uid", "idx", "pid").
func typoOf(key string) string {
	lk := strings.ToLower(key)
	for _, k := range manifestKeys {
		if len(k) >= 3 && editDistance1(lk, k) {
			return k
		}
	}
	return ""
}

// editDistance1 reports whether a and b differ by exactly one insertion,
// deletion, substitution or transposition of adjacent bytes.
func editDistance1(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	switch len(a) - len(b) {
	case 0:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		if i == len(a) {
			return false // equal
		}
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case 1:
		i := 0
		for i < len(b) && a[i] == b[i] {
			i++
		}
		return a[i+1:] == b[i:]
	}
	return false
}

// metaKeys returns the line's keys that are not manifest keys, with their
// compacted values, or an error for a key that looks like a misspelt one.
func metaKeys(b []byte) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("bad JSON: %v", err)
	}
	var meta map[string]json.RawMessage
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same error for the same line, whatever the map order
	for _, k := range keys {
		if isManifestKey(k) {
			continue
		}
		if known := typoOf(k); known != "" {
			return nil, fmt.Errorf("unknown field %q, did you mean %s? (a key one letter away from a known key is taken for a typo; known keys: %s; any other key is kept as metadata)",
				k, known, strings.Join(manifestKeys[:len(manifestKeys)-1], ", "))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, all[k]); err != nil {
			return nil, fmt.Errorf("bad JSON in %q: %v", k, err)
		}
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		meta[k] = json.RawMessage(buf.Bytes())
	}
	return meta, nil
}

// parseSeconds reads an optional "start"/"end" value: absent or null gives ok false.
func parseSeconds(key string, raw json.RawMessage) (sec float64, ok bool, err error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false, nil
	}
	if !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return 0, false, fmt.Errorf("%s must be a number of seconds, got %s", key, describeJSON(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, fmt.Errorf("%s: bad number %s", key, s)
	}
	if f < 0 {
		return 0, false, fmt.Errorf("%s %s is negative (seconds from the start of the file)", key, s)
	}
	return f, true, nil
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
	if err := dec.Decode(&m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return Clip{}, fmt.Errorf("bad JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return Clip{}, fmt.Errorf("field %q must be a %s, got %s", typ.Field, typ.Type, typ.Value)
		}
		return Clip{}, fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return Clip{}, errors.New("bad JSON: more than one value on the line")
	}
	meta, err := metaKeys(b)
	if err != nil {
		return Clip{}, err
	}
	c := Clip{Split: m.Split, Meta: meta}
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
	start, hasStart, err := parseSeconds("start", m.Start)
	if err != nil {
		return Clip{}, err
	}
	end, hasEnd, err := parseSeconds("end", m.End)
	if err != nil {
		return Clip{}, err
	}
	if hasEnd && end <= start {
		return Clip{}, fmt.Errorf("end %s is not after start %s", strings.TrimSpace(string(m.End)), strconv.FormatFloat(start, 'g', -1, 64))
	}
	if (hasStart || hasEnd) && m.Frames != "" {
		return Clip{}, errors.New("\"start\"/\"end\" need a \"video\" or \"audio\" file to cut; a \"frames\" folder has no timestamps (cut the frames by hand, or use a video file)")
	}
	c.Start, c.End = start, end
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
// to scores, arrays of numbers to multi-label vectors and arrays of [id, score] pairs
// to answers; anything else is an error.
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
		if isAnswerPair(vals[0]) {
			return parseAnswers(vals)
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
		return Label{}, fmt.Errorf("label must be an int class, a float score, a list of numbers or a list of [answer id, score] pairs, got %s", describeJSON(s))
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

// isAnswerPair reports whether v is a two-element list, which makes a list
// label a list of [answer id, score] pairs.
func isAnswerPair(v json.RawMessage) bool {
	var pair []json.RawMessage
	s := strings.TrimSpace(string(v))
	return s != "" && s[0] == '[' && json.Unmarshal(v, &pair) == nil && len(pair) == 2
}

// parseAnswers reads a list of [answer id, score] pairs: ids are
// non-negative integers, each listed once; scores are numbers (the trainer
// checks their range).
func parseAnswers(vals []json.RawMessage) (Label, error) {
	out := make([]Answer, len(vals))
	seen := map[int]int{}
	for i, v := range vals {
		var pair []json.RawMessage
		if !isAnswerPair(v) || json.Unmarshal(v, &pair) != nil {
			return Label{}, fmt.Errorf("label[%d]: want an [answer id, score] pair like the first entry, got %s", i, describeJSON(strings.TrimSpace(string(v))))
		}
		id, err := labelNumber(pair[0])
		if s := strings.TrimSpace(string(pair[0])); err == nil && (strings.ContainsAny(s, ".eE") || id < 0 || id > math.MaxInt32) {
			err = fmt.Errorf("answer id %s is not a non-negative integer", s)
		}
		if err != nil {
			return Label{}, fmt.Errorf("label[%d][0]: %w", i, err)
		}
		score, err := labelNumber(pair[1])
		if err != nil {
			return Label{}, fmt.Errorf("label[%d][1]: %w", i, err)
		}
		if j, dup := seen[int(id)]; dup {
			return Label{}, fmt.Errorf("label[%d]: answer %d is listed twice (also label[%d])", i, int(id), j)
		}
		seen[int(id)] = i
		out[i] = Answer{ID: int(id), Score: score}
	}
	return Label{Kind: LabelAnswers, Answers: out}, nil
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
	if iAns, hasAns := first[LabelAnswers]; hasAns {
		for k, i := range first {
			if k != LabelAnswers {
				return fmt.Errorf("data: %s: label is a %s but %s has [answer id, score] pairs; use one label type per manifest",
					clips[i].where(), k, clips[iAns].where())
			}
		}
		return nil
	}
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
	p = strings.TrimSuffix(p, filepath.Ext(p))
	if c.IsSegment() {
		p += "@" + c.segmentString() // segments of one file get distinct IDs
	}
	return p
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
			Start  float64         `json:"start,omitempty"`
			End    float64         `json:"end,omitempty"`
		}{ID: c.ID, Video: rel(c.Video), Frames: rel(c.Frames), Audio: rel(c.Audio), Split: c.Split, Start: c.Start, End: c.End}
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
		case LabelAnswers:
			parts := make([]string, len(c.Label.Answers))
			for j, a := range c.Label.Answers {
				parts[j] = "[" + strconv.Itoa(a.ID) + "," + strconv.FormatFloat(a.Score, 'g', -1, 64) + "]"
			}
			m.Label = json.RawMessage("[" + strings.Join(parts, ",") + "]")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("data: write manifest %s: clip %d: %w", path, i, err)
		}
		if len(c.Meta) > 0 {
			for k := range c.Meta {
				if isManifestKey(k) || typoOf(k) != "" {
					return fmt.Errorf("data: write manifest %s: clip %d: meta key %q would read back as (a typo of) a manifest key", path, i, k)
				}
			}
			mb, err := json.Marshal(c.Meta) // sorted keys
			if err != nil {
				return fmt.Errorf("data: write manifest %s: clip %d: meta: %w", path, i, err)
			}
			if len(b) > 2 {
				b = append(b[:len(b)-1], ',')
			} else {
				b = b[:1]
			}
			b = append(b, mb[1:]...)
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
