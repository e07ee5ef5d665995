package data

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/internal/allocs"
)

// fuzzSameJSON reports whether two JSON values are equal as values
// (WriteManifest's encoder may escape characters the input did not).
func fuzzSameJSON(a, b json.RawMessage) bool {
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// FuzzReadManifest writes the input as a JSON Lines manifest next to a few
// media files (a.wav, v.mp4, frames/) and reads it. ReadManifest must not
// panic; it returns either an error naming the manifest or clips that
// satisfy the manifest's rules (a known split, some media, video and frames
// not both, finite non-negative start/end with end after start, labels of
// one kind); WriteManifest must write those clips back so that they read
// back equal. Allocation is bounded by 64 times the input plus 64 MiB.
func FuzzReadManifest(f *testing.F) {
	for _, s := range []string{
		`{"video": "v.mp4", "label": 3, "split": "train"}`,
		"\ufeff# comment\n\n{\"frames\": \"frames\", \"audio\": \"a.wav\", \"label\": 0.5, \"split\": \"val\"}\r\n{\"audio\": \"a.wav\", \"label\": 2}",
		`{"id": "c1", "video": "v.mp4", "start": 1.5, "end": 3, "label": [1, 0, 1], "speaker": "spk03", "n": {"a": [1, 2]}}` + "\n" +
			`{"id": "c2", "audio": "a.wav", "start": 0, "label": [0, 0.5, 1e-3]}`,
		`{"video": "v.mp4", "label": [[3, 1.0], [7, 0.3]], "split": "test", "meta": {"old": true}}`,
		`{"video": "v.mp4"}` + "\n" + `{"video": "v.mp4", "start": 2}` + "\n" + `{"audio": "a.wav", "end": null}`,
		`{"vdeo": "v.mp4"}`,
		`{"video": "v.mp4", "frames": "frames"}`,
		`{"audio": "a.wav", "label": "cat"}`,
		`{"audio": "a.wav", "label": 1}` + "\n" + `{"audio": "a.wav", "label": [1, 2]}`,
		`{"video": "missing.mp4"} {"video": "v.mp4"}`,
		`{"id": "", "video": "v.mp4"}`,
	} {
		f.Add([]byte(s))
	}
	base := f.TempDir()
	for name, content := range map[string]string{"a.wav": "RIFF", "v.mp4": "mp4", "empty.wav": ""} {
		if err := os.WriteFile(filepath.Join(base, name), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(base, "frames"), 0o755); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(base, "m.jsonl")
	again := filepath.Join(base, "again.jsonl")

	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var clips []Clip
		var err error
		alloc := allocs.Of(func() { clips, err = ReadManifest(path) })
		if limit := uint64(64<<20) + 64*uint64(len(b)); alloc > limit {
			t.Fatalf("reading %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if clips != nil {
				t.Fatalf("error %v with %d clips", err, len(clips))
			}
			if !strings.HasPrefix(err.Error(), "data: ") || !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the manifest: %v", err)
			}
			return
		}
		if len(clips) == 0 {
			t.Fatal("no clips and no error")
		}
		var kind LabelKind
		ids := map[string]bool{}
		for _, c := range clips {
			if c.ID == "" || ids[c.ID] {
				t.Fatalf("line %d: empty or duplicate id %q", c.Line, c.ID)
			}
			ids[c.ID] = true
			if !validSplits[c.Split] {
				t.Fatalf("line %d: split %q", c.Line, c.Split)
			}
			if c.Video == "" && c.Frames == "" && c.Audio == "" || c.Video != "" && c.Frames != "" {
				t.Fatalf("line %d: media video=%q frames=%q audio=%q", c.Line, c.Video, c.Frames, c.Audio)
			}
			for _, v := range []float64{c.Start, c.End} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("line %d: segment %v-%v", c.Line, c.Start, c.End)
				}
			}
			if c.End != 0 && c.End <= c.Start {
				t.Fatalf("line %d: end %v not after start %v", c.Line, c.End, c.Start)
			}
			if c.Label.Kind != LabelNone {
				if kind != LabelNone && c.Label.Kind != kind {
					t.Fatalf("line %d: label kinds %v and %v in one manifest", c.Line, kind, c.Label.Kind)
				}
				kind = c.Label.Kind
			}
			if c.Label.Kind == LabelClass && c.Label.Class < 0 {
				t.Fatalf("line %d: class %d", c.Line, c.Label.Class)
			}
		}
		if err := WriteManifest(again, clips); err != nil {
			t.Fatalf("writing back the clips read: %v", err)
		}
		back, err := ReadManifest(again)
		if err != nil {
			t.Fatalf("reading back the written manifest: %v", err)
		}
		if len(back) != len(clips) {
			t.Fatalf("read back %d clips, wrote %d", len(back), len(clips))
		}
		for i, c := range clips {
			d := back[i]
			if len(c.Meta) != len(d.Meta) {
				t.Fatalf("clip %d: meta %v read back as %v", i, c.Meta, d.Meta)
			}
			for k, v := range c.Meta {
				if !fuzzSameJSON(v, d.Meta[k]) {
					t.Fatalf("clip %d: meta %q = %s read back as %s", i, k, v, d.Meta[k])
				}
			}
			c.Meta, d.Meta = nil, nil
			c.Line, d.Line, c.Source, d.Source = 0, 0, "", ""
			if !reflect.DeepEqual(c, d) {
				t.Fatalf("clip %d read back differently:\n got %+v\nwant %+v", i, d, c)
			}
		}
	})
}
