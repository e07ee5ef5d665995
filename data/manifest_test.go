package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// touch creates a non-empty file (or folder when the name ends in "/") below dir.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "v/a.mp4", "f/b/", "w/b.wav", "w/c.wav", "v/d.mp4", "w/e.wav")
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `# comment line
{"video": "v/a.mp4", "label": 2, "split": "train"}

{"frames": "f/b", "audio": "w/b.wav", "label": 0.5, "split": "val", "id": "clip-b"}
   # indented comment
{"audio": "w/c.wav", "split": "test", "meta": {"speaker": "x"}}
{"video": "v/d.mp4", "audio": "w/e.wav", "label": 1}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	want := []Clip{
		// Class 2 becomes a score because the manifest also holds a float score.
		{ID: "v/a", Video: filepath.Join(dir, "v/a.mp4"), Split: "train", Label: Label{Kind: LabelScore, Score: 2}, Line: 2, Source: mp},
		{ID: "clip-b", Frames: filepath.Join(dir, "f/b"), Audio: filepath.Join(dir, "w/b.wav"), Split: "val", Label: Label{Kind: LabelScore, Score: 0.5}, Line: 4, Source: mp},
		{ID: "w/c", Audio: filepath.Join(dir, "w/c.wav"), Split: "test", Line: 6, Source: mp},
		{ID: "v/d", Video: filepath.Join(dir, "v/d.mp4"), Audio: filepath.Join(dir, "w/e.wav"), Label: Label{Kind: LabelScore, Score: 1}, Line: 7, Source: mp},
	}
	if !reflect.DeepEqual(clips, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", clips, want)
	}
	if got := FilterSplit(clips, "val"); len(got) != 1 || got[0].ID != "clip-b" {
		t.Fatalf("FilterSplit(val) = %+v", got)
	}
	if got := FilterSplit(clips, ""); len(got) != 1 || got[0].ID != "v/d" {
		t.Fatalf("FilterSplit(\"\") = %+v", got)
	}
}

func TestReadManifestLabels(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.wav")
	cases := []struct {
		labels []string
		want   []Label
	}{
		{[]string{"3", "0"}, []Label{{Kind: LabelClass, Class: 3}, {Kind: LabelClass, Class: 0}}},
		{[]string{"-1.25", "2e-1"}, []Label{{Kind: LabelScore, Score: -1.25}, {Kind: LabelScore, Score: 0.2}}},
		{[]string{"[1, 0, 0.5]", "[0,0,1]"}, []Label{{Kind: LabelMulti, Multi: []float64{1, 0, 0.5}}, {Kind: LabelMulti, Multi: []float64{0, 0, 1}}}},
		{[]string{"null", "1"}, []Label{{}, {Kind: LabelClass, Class: 1}}},
	}
	for _, c := range cases {
		var sb strings.Builder
		for i, l := range c.labels {
			sb.WriteString(`{"audio":"a.wav","id":"c` + string(rune('0'+i)) + `","label":` + l + "}\n")
		}
		mp := filepath.Join(dir, "m.jsonl")
		writeText(t, mp, sb.String())
		clips, err := ReadManifest(mp)
		if err != nil {
			t.Fatalf("%v: %v", c.labels, err)
		}
		for i := range clips {
			if !reflect.DeepEqual(clips[i].Label, c.want[i]) {
				t.Errorf("%v: label %d = %+v, want %+v", c.labels, i, clips[i].Label, c.want[i])
			}
		}
	}
}

func TestReadManifestErrors(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.wav", "v.mp4", "fr/")
	if err := os.WriteFile(filepath.Join(dir, "empty.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := `{"audio":"a.wav","id":"ok"}` + "\n"
	cases := []struct {
		name, line, want string
	}{
		{"bad JSON", `{"audio": "a.wav",`, "bad JSON"},
		{"no media", `{"label": 1}`, "no media"},
		{"unknown split", `{"audio":"a.wav","split":"dev"}`, `unknown split "dev"`},
		{"string label", `{"audio":"a.wav","label":"cat"}`, `got string "cat"`},
		{"bool label", `{"audio":"a.wav","label":true}`, "got bool true"},
		{"object label", `{"audio":"a.wav","label":{"a":1}}`, "got an object"},
		{"nested list", `{"audio":"a.wav","label":[[1]]}`, "label[0]: want a number, got a list"},
		{"empty list", `{"audio":"a.wav","label":[]}`, "empty list"},
		{"negative class", `{"audio":"a.wav","label":-2}`, "class -2 is negative"},
		{"missing file", `{"audio":"nope.wav"}`, "audio: missing file " + filepath.Join(dir, "nope.wav")},
		{"missing frames", `{"frames":"nofr","audio":"a.wav"}`, "frames: missing file"},
		{"frames is file", `{"frames":"a.wav"}`, "is not a folder"},
		{"video is folder", `{"video":"fr"}`, "is a folder"},
		{"empty file", `{"audio":"empty.wav"}`, "is empty (0 bytes)"},
		{"video and frames", `{"video":"v.mp4","frames":"fr"}`, "both"},
		{"unknown key", `{"audio":"a.wav","lable":1}`, `unknown field "lable"`},
		{"path not string", `{"audio":3}`, `field "audio" must be a string`},
		{"duplicate id", `{"audio":"a.wav","id":"ok"}`, `duplicate id "ok" (first used on line 1)`},
		{"two values", `{"audio":"a.wav"} {"audio":"a.wav"}`, "more than one value"},
	}
	for _, c := range cases {
		mp := filepath.Join(dir, "manifest.jsonl")
		writeText(t, mp, good+"\n"+c.line+"\n")
		_, err := ReadManifest(mp)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		prefix := mp + ":3: "
		if !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want %q and %q", c.name, err, prefix, c.want)
		}
	}
	// Whole-manifest checks name the offending line too.
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"audio":"a.wav","id":"a","label":[1,2]}`+"\n"+`{"audio":"a.wav","id":"b","label":[1]}`+"\n")
	if _, err := ReadManifest(mp); err == nil || !strings.Contains(err.Error(), mp+":2: label has 1 values but "+mp+":1 has 2") {
		t.Errorf("multi length mismatch: %v", err)
	}
	writeText(t, mp, `{"audio":"a.wav","id":"a","label":[1,2]}`+"\n"+`{"audio":"a.wav","id":"b","label":3}`+"\n")
	if _, err := ReadManifest(mp); err == nil || !strings.Contains(err.Error(), mp+":2: label is a class but") {
		t.Errorf("mixed multi/class: %v", err)
	}
	writeText(t, mp, "# only a comment\n\n")
	if _, err := ReadManifest(mp); err == nil || !strings.Contains(err.Error(), "no clips") {
		t.Errorf("empty manifest: %v", err)
	}
	if _, err := ReadManifest(filepath.Join(dir, "absent.jsonl")); err == nil || !strings.Contains(err.Error(), "absent.jsonl") {
		t.Errorf("absent manifest: %v", err)
	}
}

func TestWriteManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "x/a.wav", "x/f/", "x/v.mp4")
	outside := t.TempDir()
	touch(t, outside, "o.wav")
	clips := []Clip{
		{ID: "a", Audio: filepath.Join(dir, "x/a.wav"), Split: "train", Label: Label{Kind: LabelScore, Score: 3}},
		{ID: "b", Frames: filepath.Join(dir, "x/f"), Audio: filepath.Join(outside, "o.wav"), Split: "test", Label: Label{Kind: LabelScore, Score: -0.25}},
		{ID: "c", Video: filepath.Join(dir, "x/v.mp4")},
	}
	mp := filepath.Join(dir, "m.jsonl")
	if err := WriteManifest(mp, clips); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(mp)
	if !strings.Contains(string(raw), `"audio":"x/a.wav","label":3.0`) {
		t.Errorf("relative path / score formatting: %s", raw)
	}
	got, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clips {
		clips[i].Line, clips[i].Source = i+1, mp
	}
	if !reflect.DeepEqual(got, clips) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", got, clips)
	}
}

// TestReadManifestAnswers: lists of [answer id, score] pairs are VQA soft
// answer targets; they round-trip through WriteManifest, and malformed
// pairs or mixtures with other label kinds are errors naming the line.
func TestReadManifestAnswers(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.wav")
	mp := filepath.Join(dir, "m.jsonl")
	writeText(t, mp, `{"audio":"a.wav","id":"q0","label":[[3, 1.0], [7, 0.3]]}`+"\n"+`{"audio":"a.wav","id":"q1","label":[[0, 1]]}`+"\n")
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	want := []Label{
		{Kind: LabelAnswers, Answers: []Answer{{3, 1}, {7, 0.3}}},
		{Kind: LabelAnswers, Answers: []Answer{{0, 1}}},
	}
	for i := range clips {
		if !reflect.DeepEqual(clips[i].Label, want[i]) {
			t.Errorf("label %d = %+v, want %+v", i, clips[i].Label, want[i])
		}
	}
	if LabelAnswers.String() != "answers" {
		t.Errorf("kind name %q", LabelAnswers)
	}
	out := filepath.Join(dir, "out.jsonl")
	if err := WriteManifest(out, clips); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if !reflect.DeepEqual(back[i].Label, want[i]) {
			t.Errorf("round trip: label %d = %+v, want %+v", i, back[i].Label, want[i])
		}
	}
	for _, c := range []struct{ lines, want string }{
		{`[[1, 0.5], [1, 1]]`, "answer 1 is listed twice"},
		{`[[1.5, 1]]`, "answer id 1.5 is not a non-negative integer"},
		{`[[-1, 1]]`, "answer id -1 is not a non-negative integer"},
		{`[[1, "x"]]`, `label[0][1]: want a number, got string "x"`},
		{`[[1, 1], 2]`, "label[1]: want an [answer id, score] pair like the first entry, got 2"},
		{`[[1, 1], [2]]`, "label[1]: want an [answer id, score] pair"},
	} {
		writeText(t, mp, `{"audio":"a.wav","label":`+c.lines+"}\n")
		if _, err := ReadManifest(mp); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.jsonl:1") {
			t.Errorf("%s: error %v, want one naming line 1 and mentioning %q", c.lines, err, c.want)
		}
	}
	writeText(t, mp, `{"audio":"a.wav","id":"x","label":[[1, 1]]}`+"\n"+`{"audio":"a.wav","id":"y","label":2}`+"\n")
	if _, err := ReadManifest(mp); err == nil || !strings.Contains(err.Error(), "answer id, score") {
		t.Errorf("answers mixed with a class: %v", err)
	}
}
