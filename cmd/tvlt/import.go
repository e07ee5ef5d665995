package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tvlt-go/tvlt/checkpoints/hf"
)

func init() {
	commands["import"] = command{
		summary: "bring HF weights (safetensors, .npz, pytorch_model.bin) or an original TVLT .ckpt into a folder finetune --init and predict read",
		run:     runImport,
	}
}

const importDescription = `
Imports weights saved by transformers, by "tvlt export" or by the original
TVLT repository into a checkpoint folder: config.json + model.safetensors +
checksums.json, the layout "tvlt finetune --init", "tvlt predict" and
"tvlt export" read.

--from is an HF folder (config.json + model.safetensors, a sharded
model.safetensors.index.json, or pytorch_model.bin; e.g. a hub snapshot of
ZinengTang/tvlt-base), or a bare .safetensors / .npz / .bin / .pt / .pth
file together with --config. Hub configs with pre-release key names are
read with their values (layer_norm_eps 1e-12, 8 decoder heads) and
written back with every key.

PyTorch files are read without Python: a restricted unpickler builds
tensors and plain containers only and refuses anything else (a .bin never
runs code). The original TVLT checkpoints (TVLT.ckpt, pretrained;
TVLT-MOSEI-SA.ckpt, sentiment; TVLT-MOSEI-EA.ckpt, emotion; or a Lightning
.ckpt of its training) need no --config: their tensors are renamed to HF's
and the config is derived from their shapes and hyper-parameters. The
MOSEI heads keep the original's tanh pooler before the classifier
(config.json: classifier_pooler, classifier_layer_norm_eps 1e-5); sentiment
becomes a regression head with label "sentiment", emotion a multilabel
head (happy, sad, angry, fear, disgust, surprise).

--model converts between HF classes: a TvltModel checkpoint imported as
pretraining or classification gets fresh (seeded) heads; heads the chosen
class lacks are dropped. What was loaded, initialised fresh and ignored is
printed.`

const importExamples = `  tvlt import --from TVLT-MOSEI-SA.ckpt --out runs/mosei-sa
  tvlt import --from TVLT.ckpt --out runs/mosei-init --model classification --num-labels 1 --loss-type regression
  tvlt import --from ~/hub/tvlt-base --out runs/tvlt-base
  tvlt import --from weights.npz --config config.json --out runs/imported`

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "--from DIR_OR_FILE --out DIR [flags]", importDescription, importExamples, stderr)
	from := fs.String("from", "", "HF folder, a .safetensors / .npz / .bin file (with --config), or an original TVLT .ckpt (required)")
	out := fs.String("out", "", "checkpoint folder to write (required); an existing folder is replaced only if it is a checkpoint folder")
	config := fs.String("config", "", "config.json to use (required for a bare HF weights file; overrides the folder's or the one derived from an original .ckpt)")
	model := fs.String("model", "", "HF class to import as: base, pretraining or classification (default: the config's architectures)")
	numLabels := fs.Int("num-labels", 0, "override num_labels (classification head size); 0 keeps the config's")
	lossType := fs.String("loss-type", "", "override loss_type: classification, regression, or the tvlt-go extensions multilabel and vqa")
	seed := fs.Uint64("seed", 0, "seed for heads the checkpoint lacks")
	strict := fs.Bool("strict", false, "fail unless the checkpoint holds exactly the chosen class's tensors")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "from", "out"); err != nil {
		return err
	}
	kind, err := parseKind(fs, stderr, fs.Name(), *model)
	if err != nil {
		return err
	}
	if *numLabels < 0 {
		return usageError(fs, "--num-labels must be positive")
	}
	opts := hf.LoadOptions{Config: *config, Strict: *strict, Overrides: map[string]interface{}{}}
	opts.Init.Seed = *seed
	opts.Init.EmbeddingStd = 0.02 // fresh embeddings like the trainer's new models
	if *numLabels > 0 {
		opts.Overrides["num_labels"] = *numLabels
		// A classifier for another label count is re-initialised, not an error.
		opts.FreshMismatchedHeads = true
	}
	if *lossType != "" {
		opts.Overrides["loss_type"] = *lossType
	}
	m, rep, err := hf.Load(*from, kind, opts)
	printReport(stderr, rep, err)
	if err != nil {
		return err
	}
	if err := hf.Save(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s (%d tensors, %d parameters; %d loaded, %d initialised fresh, %d ignored) to %s\n",
		m.Kind, len(m.Params.Names()), m.Params.NumParams(), len(rep.Loaded), len(rep.Fresh), len(rep.Ignored), *out)
	return nil
}
