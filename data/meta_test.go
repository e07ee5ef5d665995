package data

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestManifestMetaKeys(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.wav", "b.wav")
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"audio": "a.wav", "label": 1, "speaker": "spk03", "tags": [ "x", "y" ], "orig": {"url": "http://e/1", "t": 1.5}, "uid": 7, "idx": null}
{"audio": "b.wav", "Label": 0, "VIDEO_ID": "abc"}
{"audio": "a.wav", "id": "plain", "label": 2}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]json.RawMessage{
		"speaker": json.RawMessage(`"spk03"`),
		"tags":    json.RawMessage(`["x","y"]`),
		"orig":    json.RawMessage(`{"url":"http://e/1","t":1.5}`),
		// Two-letter "id" is not typo-checked: "uid" and "idx" are metadata.
		"uid": json.RawMessage(`7`),
		"idx": json.RawMessage(`null`),
	}
	if !reflect.DeepEqual(clips[0].Meta, want) {
		t.Errorf("meta %s, want %s", fmtMeta(clips[0].Meta), fmtMeta(want))
	}
	var speaker string
	if err := json.Unmarshal(clips[0].Meta["speaker"], &speaker); err != nil || speaker != "spk03" {
		t.Errorf("speaker %q, %v", speaker, err)
	}
	// Known keys match without regard to case, as before; other keys are meta.
	if c := clips[1]; !reflect.DeepEqual(c.Label, Label{Kind: LabelClass, Class: 0}) || len(c.Meta) != 1 || string(c.Meta["VIDEO_ID"]) != `"abc"` {
		t.Errorf("line 2: label %+v, meta %s", c.Label, fmtMeta(c.Meta))
	}
	if clips[2].Meta != nil {
		t.Errorf("line 3 without extra keys: meta %s, want nil", fmtMeta(clips[2].Meta))
	}
	// Meta survives WriteManifest / ReadManifest.
	out := filepath.Join(dir, "out.jsonl")
	if err := WriteManifest(out, clips); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clips {
		if !reflect.DeepEqual(back[i].Meta, clips[i].Meta) {
			t.Errorf("round trip clip %d: meta %s, want %s", i, fmtMeta(back[i].Meta), fmtMeta(clips[i].Meta))
		}
	}
	bad := []Clip{{ID: "x", Audio: clips[0].Audio, Meta: map[string]json.RawMessage{"lable": json.RawMessage("1")}}}
	if err := WriteManifest(out, bad); err == nil || !strings.Contains(err.Error(), `"lable"`) {
		t.Errorf("writing a typo meta key: %v", err)
	}
}

func fmtMeta(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func TestManifestKeyTypos(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "a.wav", "v.mp4")
	for _, c := range []struct{ line, key, want string }{
		{`{"audio":"a.wav","lable":1}`, "lable", "label"},     // transposition
		{`{"audio":"a.wav","labels":[1]}`, "labels", "label"}, // insertion
		{`{"audio":"a.wav","labl":1}`, "labl", "label"},       // deletion
		{`{"audio":"a.wav","lebel":1}`, "lebel", "label"},     // substitution
		{`{"audio":"a.wav","Lable":1}`, "Lable", "label"},     // and case
		{`{"vidoe":"v.mp4","audio":"a.wav"}`, "vidoe", "video"},
		{`{"audios":"a.wav"}`, "audios", "audio"},
		{`{"audio":"a.wav","frame":"x"}`, "frame", "frames"},
		{`{"audio":"a.wav","spilt":"train"}`, "spilt", "split"},
		{`{"audio":"a.wav","strat":1}`, "strat", "start"},
		{`{"audio":"a.wav","ends":1}`, "ends", "end"},
	} {
		mp := filepath.Join(dir, "manifest.jsonl")
		writeText(t, mp, `{"audio":"a.wav","id":"first"}`+"\n"+c.line+"\n")
		_, err := ReadManifest(mp)
		want := mp + `:2: unknown field "` + c.key + `", did you mean ` + c.want + "?"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", c.line, err, want)
		}
	}
}

func TestManifestSegments(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "rec/long.mp4", "rec/long.wav", "fr/")
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"video": "rec/long.mp4", "start": 0, "end": 12.5}
{"video": "rec/long.mp4", "start": 12.5, "end": 30}
{"video": "rec/long.mp4", "audio": "rec/long.wav", "start": 30}
{"audio": "rec/long.wav", "end": 2e1, "start": null}
{"video": "rec/long.mp4", "id": "whole", "start": 0}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		id         string
		start, end float64
		segment    bool
	}{
		{"rec/long@0-12.5", 0, 12.5, true},
		{"rec/long@12.5-30", 12.5, 30, true},
		{"rec/long@30-end", 30, 0, true},
		{"rec/long@0-20", 0, 20, true},
		{"whole", 0, 0, false},
	} {
		c := clips[i]
		if c.ID != w.id || c.Start != w.start || c.End != w.end || c.IsSegment() != w.segment {
			t.Errorf("line %d: id %q start %g end %g segment %v, want %q %g %g %v", i+1, c.ID, c.Start, c.End, c.IsSegment(), w.id, w.start, w.end, w.segment)
		}
	}
	// start/end survive WriteManifest / ReadManifest.
	out := filepath.Join(dir, "out.jsonl")
	if err := WriteManifest(out, clips); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clips {
		if back[i].ID != clips[i].ID || back[i].Start != clips[i].Start || back[i].End != clips[i].End {
			t.Errorf("round trip clip %d: %+v, want %+v", i, back[i], clips[i])
		}
	}

	for _, c := range []struct{ line, want string }{
		{`{"video":"rec/long.mp4","start":-1}`, "start -1 is negative"},
		{`{"video":"rec/long.mp4","end":-0.5}`, "end -0.5 is negative"},
		{`{"video":"rec/long.mp4","start":5,"end":2}`, "end 2 is not after start 5"},
		{`{"video":"rec/long.mp4","start":5,"end":5}`, "end 5 is not after start 5"},
		{`{"video":"rec/long.mp4","end":0}`, "end 0 is not after start 0"},
		{`{"video":"rec/long.mp4","start":"1:30"}`, `start must be a number of seconds, got string "1:30"`},
		{`{"video":"rec/long.mp4","end":true}`, "end must be a number of seconds, got bool true"},
		{`{"video":"rec/long.mp4","end":[3]}`, "end must be a number of seconds, got a list"},
		{`{"video":"rec/long.mp4","start":1e999}`, "start: bad number 1e999"},
		{`{"frames":"fr","audio":"rec/long.wav","start":1}`, `"start"/"end" need a "video" or "audio" file to cut`},
	} {
		writeText(t, mp, `{"audio":"rec/long.wav","id":"first"}`+"\n"+c.line+"\n")
		_, err := ReadManifest(mp)
		if err == nil || !strings.Contains(err.Error(), mp+":2: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q naming line 2", c.line, err, c.want)
		}
	}
}
