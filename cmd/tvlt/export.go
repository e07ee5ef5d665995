package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/hf"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
)

func init() {
	commands["export"] = command{
		summary: "write a checkpoint as an HF folder (from_pretrained) or .npz",
		run:     runExport,
	}
}

const exportDescription = `
Exports trained weights in formats other tools read. --ckpt is a run folder
(its final model, or its newest checkpoint-N when the run was stopped) or a
checkpoint folder.

--format safetensors writes the folder --out with config.json (every
TvltConfig field; architectures names the class of the weights) and
model.safetensors (HF state-dict names), plus checksums.json. It loads
unchanged with transformers (versions up to 4.40, the last with TVLT):

    from transformers import TvltForPreTraining
    model = TvltForPreTraining.from_pretrained("OUT")

--format npz writes the file --out with one float32 array per HF name, for
numpy.load. --model converts between the HF classes: "base" (TvltModel)
keeps the encoder only; a head the checkpoint lacks would be exported with
random values, which needs --allow-fresh.`

const exportExamples = `  tvlt export --ckpt runs/pretrain --out export/tvlt-pretrain
  tvlt export --ckpt runs/pretrain --out export/tvlt-encoder --model base --f16
  tvlt export --ckpt runs/finetune/checkpoint-500 --out weights.npz --format npz`

// modelKinds maps --model values to kinds; "" keeps the checkpoint's.
var modelKinds = map[string]layers.Kind{
	"":               hf.FromConfig,
	"base":           layers.Base,
	"pretraining":    layers.Pretraining,
	"classification": layers.Classification,
}

// parseKind turns a --model value into a kind.
func parseKind(fs *flag.FlagSet, stderr io.Writer, name, value string) (layers.Kind, error) {
	k, ok := modelKinds[value]
	if !ok {
		return 0, usageError(fs, "--model %q: want base, pretraining or classification", value)
	}
	return k, nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "--ckpt DIR --out PATH [flags]", exportDescription, exportExamples, stderr)
	ckpt := fs.String("ckpt", "", "run or checkpoint folder to export (required)")
	out := fs.String("out", "", "output folder (safetensors) or .npz file (required); an existing folder is replaced only if it is an exported or imported checkpoint folder that verifies (never a training checkpoint-N, a run folder or the source itself)")
	format := fs.String("format", "safetensors", "safetensors (HF folder) or npz")
	model := fs.String("model", "", "HF class to export: base, pretraining or classification (default: the checkpoint's)")
	f16 := fs.Bool("f16", false, "store safetensors weights as float16 (half the size)")
	allowFresh := fs.Bool("allow-fresh", false, "export even if --model adds heads the checkpoint lacks (they get random values)")
	allowNonFinite := fs.Bool("allow-nonfinite", false, "export weights holding NaN or ±Inf anyway (forensics; by default they are an error naming the tensor)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "ckpt", "out"); err != nil {
		return err
	}
	kind, err := parseKind(fs, stderr, fs.Name(), *model)
	if err != nil {
		return err
	}
	if *format != "safetensors" && *format != "npz" {
		return usageError(fs, "--format %q: want safetensors or npz", *format)
	}
	if *f16 && *format != "safetensors" {
		return usageError(fs, "--f16 applies to --format safetensors only")
	}
	dir, err := train.ResolveModelDir(*ckpt)
	if err != nil {
		return err
	}
	for _, src := range []string{*ckpt, dir} {
		if sameFile(src, *out) {
			return fmt.Errorf("export: --out %s is the folder being exported (%s); choose another --out", *out, src)
		}
	}
	m, rep, err := hf.Load(dir, kind, hf.LoadOptions{AllowNonFinite: *allowNonFinite})
	printReport(stderr, rep, err)
	if err != nil {
		return nonFiniteHint(err)
	}
	if len(rep.Fresh) > 0 && !*allowFresh {
		return fmt.Errorf("%s lacks %d tensors of %s (%s); they would be exported untrained: pass --allow-fresh to export anyway",
			dir, len(rep.Fresh), m.Kind, train.Abbreviate(rep.Fresh, 3))
	}
	if c := m.Config; m.Kind == layers.Classification && (c.ClassifierPooler || c.ClassifierLayerNormEps != 0) {
		// The original TVLT's head (imported MOSEI/VQA models) has a pooler
		// and its own LayerNorm eps; HF's TVLT code has neither.
		fmt.Fprintf(stderr, "warning: this classifier uses the tvlt-go extensions classifier_pooler / classifier_layer_norm_eps (the original TVLT's head); HF's TVLT code ignores them and would compute other logits: run it with tvlt-go, or fine-tune a head without them\n")
	}
	stored := "F32"
	switch {
	case *format == "npz":
		err = hf.ExportNPZ(*out, m)
	case *f16:
		stored = "F16"
		err = hf.Save(*out, m, hf.F16())
	default:
		err = hf.Save(*out, m)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s (%d tensors, %d parameters, %s %s) from %s to %s\n",
		m.Kind, len(m.Params.Names()), m.Params.NumParams(), *format, stored, dir, *out)
	return nil
}

// nonFiniteHint adds how to load non-finite weights anyway to a load
// error caused by them.
func nonFiniteHint(err error) error {
	if errors.Is(err, checkpoints.ErrNonFinite) {
		return fmt.Errorf("%w; pass --allow-nonfinite to load it anyway for inspection", err)
	}
	return err
}

// sameFile reports whether a and b name the same existing file or folder.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// printReport shows what a load did: every name when it failed or left
// tensors fresh (the user must know those), else the summary line, since
// dropping a pretraining decoder lists hundreds of names.
func printReport(w io.Writer, rep *hf.Report, err error) {
	switch {
	case rep == nil:
	case err != nil || len(rep.Fresh) > 0:
		fmt.Fprint(w, rep)
	default:
		fmt.Fprintln(w, rep.Summary())
	}
}
