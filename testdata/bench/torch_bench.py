#!/usr/bin/python3
"""PyTorch baseline for `tvlt bench`: the same step on the same shapes.

The model is the independent PyTorch re-implementation of HF's TVLT in
testdata/golden/gen_golden.py (validated against the golden data), imported
by path and not modified. The config is the one `tvlt bench --preset NAME`
uses, written by the Go side so the two never drift:

    go run ./testdata/bench/presetjson small > /tmp/small.json
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 \\
        testdata/bench/torch_bench.py --config /tmp/small.json --preset small \\
        --task pretrain --batch-size 8 --steps 10 --warmup 2

What a step is (as in train/bench.go):
  pretrain  TvltForPreTraining in train mode: matching pass on the mixed
            pixels + MAE pass (fresh random masking with the config's
            ratios, encoder on the kept tokens, shared decoder on pixel and
            audio sequences, MAE losses), backward, global grad-norm clip to
            1, AdamW step (decay off for biases, norms, embeddings and mask
            tokens, like optim.DefaultGroups);
  finetune  TvltForAudioVisualClassification in train mode: forward,
            cross-entropy, backward, clip, AdamW;
  infer     the classification forward in eval mode under torch.no_grad().
Inputs are N(0,1) of the preset's full shapes with all-ones attention masks.

Threads: Debian's torch 1.13 runs its GEMMs through OpenBLAS (libblas.so.3),
whose threads torch.set_num_threads does not control; on this 2-core machine
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 with torch.set_num_threads(2) was the
fastest setting (see testdata/bench/README.md). compare.sh sets the
environment; this script sets torch's intra-op threads (--threads).

The last stdout line is one JSON object with the keys `tvlt bench` prints:
preset, task, batch_size, steps, ms_per_step_median, ms_per_step_min,
samples_per_s, peak_rss_mb (VmHWM), params.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_GOLDEN = os.path.join(HERE, "..", "golden", "gen_golden.py")


def load_reference():
    spec = importlib.util.spec_from_file_location("gen_golden", GEN_GOLDEN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def peak_rss_mb():
    """VmHWM in MiB, the number train.PeakRSSMB reports; 0 without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def no_decay(name, shape):
    """optim.DefaultGroups: no weight decay on 0/1-D tensors, *embed*, *mask_token*."""
    if len(shape) <= 1:
        return True
    leaf = name.rsplit(".", 1)[-1]
    return "embed" in leaf or "mask_token" in leaf


def random_inputs(torch, c, b, task):
    """Same shapes as train.randomBatch."""
    h, w = c.image_hw
    t, ch = c.num_frames, c.num_image_channels
    lp = t * c.patches_per_frame
    la = c.time_patches_max * c.freq_patches
    inp = {
        "pixel_values": torch.randn(b, t, ch, h, w),
        "pixel_mask": torch.ones(b, lp),
        "audio_values": torch.randn(b, 1, c.spectrogram_length, c.frequency_length),
        "audio_mask": torch.ones(b, la),
    }
    if task == "pretrain":
        inp["pixel_values_mixed"] = torch.randn(b, t, ch, h, w)
        inp["pixel_mask_mixed"] = torch.ones(b, lp)
        inp["matching_labels"] = (torch.arange(b) % 2).to(torch.float32).reshape(b, 1)
    labels = torch.arange(b) % c.num_labels
    return inp, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="config.json (go run ./testdata/bench/presetjson NAME)")
    ap.add_argument("--preset", default="", help="name reported in the JSON (default: the config file's name)")
    ap.add_argument("--task", default="pretrain", choices=["pretrain", "finetune", "infer"])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.batch_size <= 0 or a.steps <= 0 or a.warmup < 0:
        ap.error("batch size and steps must be positive, warmup not negative")

    ref = load_reference()
    import torch  # after gen_golden, which pins 1 thread and deterministic algorithms
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(False)
    torch.manual_seed(a.seed)

    with open(a.config) as f:
        raw = json.load(f)
    if a.task == "pretrain":
        raw["task_mae"], raw["task_matching"] = True, True
    c = ref.Config(raw)

    if a.task == "pretrain":
        model = ref.TvltForPreTraining(c)
    else:
        model = ref.TvltForAudioVisualClassification(c)
    ref.init_weights(model, torch.Generator().manual_seed(a.seed), c.initializer_range)
    params = sum(p.numel() for p in model.parameters())
    inp, labels = random_inputs(torch, c, a.batch_size, a.task)

    if a.task == "infer":
        model.eval()

        def step(i):
            with torch.no_grad():
                h = model.tvlt(inp["pixel_values"], inp["audio_values"], inp["pixel_mask"], inp["audio_mask"])
                model.classifier(h["last_hidden_state"][:, 0])
    else:
        model.train()
        decay, plain = [], []
        for n, p in model.named_parameters():
            (plain if no_decay(n, p.shape) else decay).append(p)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                                lr=1e-5, betas=(0.9, 0.999), eps=1e-8)

        def step(i):
            if a.task == "pretrain":
                # Masking noise is drawn after torch.manual_seed(seed): a new seed per step.
                _, loss = ref.pretraining_forward(model, inp, a.seed * 1000003 + i)
            else:
                _, loss = model(inp, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

    for i in range(a.warmup):
        step(i)
    times = []
    for i in range(a.steps):
        start = time.perf_counter()
        step(a.warmup + i)
        times.append((time.perf_counter() - start) * 1000)
    med = statistics.median(times)
    out = {
        "preset": a.preset or os.path.basename(a.config),
        "task": a.task,
        "batch_size": a.batch_size,
        "steps": a.steps,
        "ms_per_step_median": round(med, 3),
        "ms_per_step_min": round(min(times), 3),
        "samples_per_s": a.batch_size / (med / 1000),
        "peak_rss_mb": peak_rss_mb(),
        "params": params,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
