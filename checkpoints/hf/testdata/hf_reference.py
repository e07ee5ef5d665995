"""HF's own TVLT code against tvlt-go's exports, both ways (reference_test.go).

Usage: /usr/bin/python3 hf_reference.py REFERENCE_DIR WORK_DIR

REFERENCE_DIR is ../shared/reference (HF's TVLT code at v4.43.4, runnable with
Debian's torch). WORK_DIR, written by the Go test, holds:

  cases.json   {"cases": [{"name", "class", "seed", "kwargs"}]}: the HF class,
               the torch seed of the masking noise and of the Python-side
               init, and the TvltConfig keyword arguments of each case
  inputs.npz   the model inputs (float32; masks; labels)
  go/<name>/   tvlt-go's export of the case: config.json + model.safetensors

For each case the script writes

  out/<name>.go.npz   the reference's outputs with go/<name> loaded as
                      from_pretrained would: TvltConfig(**config.json) and
                      load_state_dict(strict=True)
  py/<name>/          a reference model initialised with torch.manual_seed:
                      config.json as save_pretrained writes it (to_dict plus
                      architectures) and model.safetensors (F32, written here
                      by hand: Debian has no safetensors package)
  out/<name>.py.npz   that model's outputs on the same inputs

Pretraining runs in training mode (HF's MAE pass runs only then) with the
noise drawn from torch.manual_seed(seed); the permutations HF used are
recorded (ids_shuffle = argsort(ids_restore), exact) so Go replays them.
"""

import json
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def read_safetensors(path):
    """state dict and metadata of a .safetensors file (8-byte header length,
    JSON header, raw little-endian data)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n :]
    sd = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=DTYPES[h["dtype"]]).reshape(h["shape"])
        sd[name] = torch.from_numpy(a.astype(np.float32))
    return sd, meta, {name: h["dtype"] for name, h in header.items()}


def write_safetensors(path, sd):
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(sd):
        b = sd[name].detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(sd[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def hf_config_dict(cfg, cls):
    """What transformers' save_pretrained writes with use_diff=False (a
    superset of its default diff form): to_dict (the reference's stub returns
    the attributes) without the runtime-only attention key, plus the class,
    the weights' dtype and the library version."""
    d = cfg.to_dict()
    d.pop("_attn_implementation_internal", None)
    d["architectures"] = [cls]
    d["torch_dtype"] = "float32"
    d["transformers_version"] = "4.43.4"
    return d


def f32(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float32))


def forward(M, model, cls, inp, seed, report):
    x = dict(
        pixel_values=f32(inp["pixel_values"]),
        audio_values=f32(inp["audio_values"]),
        pixel_mask=f32(inp["pixel_mask"]),
        audio_mask=f32(inp["audio_mask"]),
    )
    out = {}
    with torch.no_grad():
        if cls == "TvltModel":
            model.eval()
            r = model(**x, output_hidden_states=True)
            out["last_hidden_state"] = r.last_hidden_state
            out["last_pixel_hidden_state"] = r.last_pixel_hidden_state
            out["last_audio_hidden_state"] = r.last_audio_hidden_state
            for i, h in enumerate(r.hidden_states):
                out["hidden_states/%d" % i] = h
        elif cls == "TvltForAudioVisualClassification":
            model.eval()
            if model.config.loss_type == "regression":
                labels = f32(inp["regression_labels"])
            else:
                labels = torch.from_numpy(inp["classification_labels"].astype(np.int64))
            r = model(**x, labels=labels)
            out["logits"], out["loss"] = r.logits, r.loss.reshape(1)
        elif cls == "TvltForPreTraining":
            model.train()  # dropout is 0: training mode only switches the MAE pass on
            labels = f32(inp["matching_labels"])
            mixed = dict(pixel_values_mixed=f32(inp["pixel_values_mixed"]), pixel_mask_mixed=f32(inp["pixel_mask_mixed"]))
            if model.config.audio_mask_type == "patch_level":
                # HF's bug: its config accepts only "patch_level", its forward
                # tests for "patch-level" and leaves the noise unbound.
                torch.manual_seed(seed)
                try:
                    model(**x, labels=labels, **mixed)
                    report["patch_level_forward"] = "ran"
                except Exception as e:  # noqa: BLE001 -- recorded for the Go test
                    report["patch_level_forward"] = "%s: %s" % (type(e).__name__, e)
                model.config.audio_mask_type = "patch-level"
            masks = []
            real = M.random_masking

            def spy(sequence, noise, len_keep, attention_masks=None):
                res = real(sequence, noise, len_keep, attention_masks)
                masks.append((len_keep, res[2], res[3]))
                return res

            M.random_masking = spy
            torch.manual_seed(seed)
            try:
                r = model(**x, labels=labels, **mixed)
            finally:
                M.random_masking = real
            if len(masks) != 2:
                raise SystemExit("pretraining forward masked %d times, want 2 (pixel, audio)" % len(masks))
            out["loss"] = r.loss.reshape(1)
            out["matching_logits"] = r.matching_logits
            out["pixel_logits"], out["audio_logits"] = r.pixel_logits, r.audio_logits
            bce = torch.nn.BCEWithLogitsLoss()
            out["matching_loss"] = bce(r.matching_logits.view(-1), labels.view(-1)).reshape(1)
            for mod, (keep, label_masks, ids_restore) in zip(("pixel", "audio"), masks):
                out[mod + "_ids_shuffle"] = torch.argsort(ids_restore, dim=1)
                out[mod + "_len_keep"] = torch.tensor([keep], dtype=torch.int64)
                out[mod + "_label_masks"] = label_masks
            out["pixel_mae_loss"] = model.pixel_mae_loss(x["pixel_values"], r.pixel_logits, out["pixel_label_masks"]).reshape(1)
            out["audio_mae_loss"] = model.audio_mae_loss(x["audio_values"], r.audio_logits, out["audio_label_masks"]).reshape(1)
        else:
            raise SystemExit("unknown class %r" % cls)
    return {k: v.detach().numpy() for k, v in out.items()}


def perturb(model, seed):
    """HF's init leaves biases 0, LayerNorms 1/0 and embeddings 0: shift every
    parameter so none is trivial and a swapped or dropped tensor shows."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def main():
    ref, work = sys.argv[1], sys.argv[2]
    sys.path.insert(0, ref)
    torch.set_num_threads(1)
    from hftvlt.models.deprecated.tvlt import modeling_tvlt as M
    from hftvlt.models.deprecated.tvlt.configuration_tvlt import TvltConfig

    with open(os.path.join(work, "cases.json")) as f:
        cases = json.load(f)["cases"]
    inp = dict(np.load(os.path.join(work, "inputs.npz")))
    os.makedirs(os.path.join(work, "out"), exist_ok=True)
    report = {}
    for case in cases:
        name, cls, seed = case["name"], case["class"], case["seed"]
        rep = report[name] = {}

        # tvlt-go's export, loaded as from_pretrained does.
        src = os.path.join(work, "go", name)
        with open(os.path.join(src, "config.json")) as f:
            cfg_dict = json.load(f)
        if cfg_dict.get("architectures") != [cls]:
            raise SystemExit("%s: architectures %r, want [%r]" % (name, cfg_dict.get("architectures"), cls))
        cfg = TvltConfig(**cfg_dict)
        model = getattr(M, cls)(cfg)
        sd, meta, dtypes = read_safetensors(os.path.join(src, "model.safetensors"))
        if meta.get("format") != "pt":  # transformers refuses the file otherwise
            raise SystemExit("%s: safetensors metadata %r lacks format=pt" % (name, meta))
        model.load_state_dict(sd, strict=True)
        rep["go_tensors"] = len(sd)
        rep["go_dtypes"] = sorted(set(dtypes.values()))
        rep["go_audio_mask_type"] = cfg_dict.get("audio_mask_type")
        np.savez(os.path.join(work, "out", name + ".go.npz"), **forward(M, model, cls, inp, seed, rep))

        # A reference model initialised here, saved for Go to import.
        torch.manual_seed(seed)
        cfg = TvltConfig(**case["kwargs"])
        model = getattr(M, cls)(cfg)
        perturb(model, seed)
        dst = os.path.join(work, "py", name)
        os.makedirs(dst, exist_ok=True)
        with open(os.path.join(dst, "config.json"), "w") as f:
            json.dump(hf_config_dict(cfg, cls), f, indent=2, sort_keys=True)
        write_safetensors(os.path.join(dst, "model.safetensors"), model.state_dict())
        rep["py_tensors"] = len(model.state_dict())
        np.savez(os.path.join(work, "out", name + ".py.npz"), **forward(M, model, cls, inp, seed, rep))
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
