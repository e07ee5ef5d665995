package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoEvalReproduces: tvlt eval on the demo's run folders, with the
// command lines the demo prints and with eval's defaults, gives the test
// metrics the demo printed (it used to evaluate with seed+99).
func TestDemoEvalReproduces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	stdout, stderr, code := tvlt(t, "demo", "--dir", dir, "--clips", "40", "--pretrain-steps", "3", "--finetune-steps", "2", "--batch-size", "4", "--seed", "7", "--plain")
	if code != 0 {
		t.Fatalf("demo: status %d\n%s", code, stderr)
	}
	res := lastJSON(t, stdout)
	cmds, _ := res["eval_commands"].([]any)
	if len(cmds) != 2 || !strings.Contains(stdout, "reproduce the test metrics with:") {
		t.Fatalf("eval commands %v\n%s", res["eval_commands"], stdout)
	}
	want := []map[string]any{res["pretrain_after"].(map[string]any), res["finetune"].(map[string]any)}
	runs := []string{res["pretrain_run"].(string), res["finetune_run"].(string)}
	for i, c := range cmds {
		args := strings.Fields(c.(string))
		if args[0] != "tvlt" {
			t.Fatalf("command %q", c)
		}
		out, serr, code := tvlt(t, args[1:]...)
		if code != 0 {
			t.Fatalf("%s: status %d\n%s", c, code, serr)
		}
		compare(t, c.(string), lastJSON(t, out), want[i], 1e-9)
		// eval's defaults (batch 8, no cache): the same up to summation order.
		out, serr, code = tvlt(t, "eval", "--data", res["data"].(string), "--ckpt", runs[i])
		if code != 0 {
			t.Fatalf("eval %s: status %d\n%s", runs[i], code, serr)
		}
		compare(t, "eval --ckpt "+runs[i], lastJSON(t, out), want[i], 1e-4)
	}
}

func compare(t *testing.T, what string, got, want map[string]any, tol float64) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: demo printed no metrics", what)
	}
	for k, w := range want {
		g, ok1 := got[k].(float64)
		wv, ok2 := w.(float64)
		if !ok1 || !ok2 || math.Abs(g-wv) > tol*math.Max(1, math.Abs(wv)) {
			t.Errorf("%s: %s = %v, the demo printed %v", what, k, got[k], w)
		}
	}
}

// TestDemoNamesNoDeletedFolder: without --keep or --dir the demo's work
// folder is removed, and the output says so instead of naming it.
func TestDemoNamesNoDeletedFolder(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	stdout, stderr, code := tvlt(t, "demo", "--clips", "20", "--pretrain-steps", "1", "--finetune-steps", "1", "--batch-size", "4", "--plain")
	if code != 0 {
		t.Fatalf("demo: status %d\n%s", code, stderr)
	}
	if strings.Contains(stdout, "tvlt-demo-") || !strings.Contains(stdout, "removed") {
		t.Errorf("output names the deleted folder or does not say it was removed:\n%s", stdout)
	}
	if res := lastJSON(t, stdout); res["removed"] != true {
		t.Errorf("JSON: removed = %v", res["removed"])
	}
}
