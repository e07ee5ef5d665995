#!/usr/bin/python3
"""Writes original-TVLT-style checkpoints from a golden set, for the Go tests.

Usage: /usr/bin/python3 gen_ckpt.py GOLDEN_DIR OUT_DIR

The golden weights (HF names) are renamed to the original repository's
(zinengtang/TVLT, model/modules/tvlt.py) by this file's own inverse mapping
(the twin of original.FromHF): fused attn.qkv, temporal_embed padded to
max_frames rows and pos_embed_a to max_audio_patches rows with zeros,
the classifier as Sequential(Pooler, Linear, LayerNorm, GELU, Linear).

Fixtures (each NAME.ckpt, plus NAME.npz with the same state dict and,
for Lightning files, NAME.hparams.json with hyper_parameters):
  pretraining   Lightning checkpoint (state_dict under "transformer.",
                hyper_parameters {"config": ..., "model_type": "transformer"},
                optimizer state) of TvltForPreTraining's weights
  encoder       published-hub style (the TVLT module's bare state dict) of
                the encoder alone
  mosei         Lightning, MOSEI sentiment head (loss_names mosei, 1 output)
                on weights_regression, with a drawn pooler
  moseiemo      published-hub style, MOSEI emotion head (6 outputs): the
                classification head's first layers, a drawn pooler and a
                drawn 6-row last layer
  vqa           Lightning, vqa_classifier with vqav2_label_size = the
                classification set's labels, with a drawn pooler
expected.npz holds "<name>/logits": the original head on the golden CLS state
(model_forward.npz last_hidden_state[:, 0]), computed with the original's
modules (nn.LayerNorm at its default eps 1e-5).
Also pytorch_model.bin (zip) and pytorch_model_legacy.bin (legacy
serialization) hold the golden pretraining weights under HF names.
Deterministic: fixed seeds, no clock.
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

MAX_FRAMES, MAX_AUDIO_PATCHES = 64, 1020
EMOTIONS = ["happy", "sad", "angry", "fear", "disgust", "surprise"]

TOP = {  # original name -> (HF name, part)
    "cls_token": ("cls_embedding", "enc"),
    "patch_embed_v.proj.weight": ("pixel_embeddings.patch_embeddings.projection.weight", "enc"),
    "patch_embed_v.proj.bias": ("pixel_embeddings.patch_embeddings.projection.bias", "enc"),
    "pos_embed_v": ("pixel_embeddings.pos_embed_v", "enc"),
    "temporal_embed": ("pixel_embeddings.temporal_embed", "enc"),
    "type_embed_v": ("pixel_embeddings.type_embed_v", "enc"),
    "patch_embed_a.proj.weight": ("audio_embeddings.patch_embeddings.projection.weight", "enc"),
    "patch_embed_a.proj.bias": ("audio_embeddings.patch_embeddings.projection.bias", "enc"),
    "pos_embed_a": ("audio_embeddings.pos_embed_a", "enc"),
    "freq_embed": ("audio_embeddings.freq_embed", "enc"),
    "type_embed_a": ("audio_embeddings.type_embed_a", "enc"),
    "norm.weight": ("layernorm.weight", "enc"),
    "norm.bias": ("layernorm.bias", "enc"),
    "decoder_pos_embed_v": ("decoder_pixel_pos_embed", "dec"),
    "decoder_temporal_embed": ("decoder_temporal_embed", "dec"),
    "decoder_type_embed_v": ("decoder_pixel_type_embed", "dec"),
    "mask_token_v": ("pixel_mask_token", "dec"),
    "decoder_pos_embed_a": ("decoder_audio_pos_embed", "dec"),
    "decoder_freq_embed": ("decoder_freq_embed", "dec"),
    "decoder_type_embed_a": ("decoder_audio_type_embed", "dec"),
    "mask_token_a": ("audio_mask_token", "dec"),
    "decoder_embed.weight": ("encoder_to_decoder.weight", "dec"),
    "decoder_embed.bias": ("encoder_to_decoder.bias", "dec"),
    "decoder_norm.weight": ("decoder.layernorm.weight", "dec"),
    "decoder_norm.bias": ("decoder.layernorm.bias", "dec"),
    "mae_score_video.decoder.weight": ("pixel_mae_head.decoder.weight", "dec"),
    "mae_score_video.decoder.bias": ("pixel_mae_head.decoder.bias", "dec"),
    "mae_score_audio.decoder.weight": ("audio_mae_head.decoder.weight", "dec"),
    "mae_score_audio.decoder.bias": ("audio_mae_head.decoder.bias", "dec"),
    "matching_score.pooler.dense.weight": ("matching_head.pooler.dense.weight", "match"),
    "matching_score.pooler.dense.bias": ("matching_head.pooler.dense.bias", "match"),
    "matching_score.fc.weight": ("matching_head.fc.weight", "match"),
    "matching_score.fc.bias": ("matching_head.fc.bias", "match"),
}
PADDED = {"temporal_embed": MAX_FRAMES, "decoder_temporal_embed": MAX_FRAMES,
          "pos_embed_a": MAX_AUDIO_PATCHES, "decoder_pos_embed_a": MAX_AUDIO_PATCHES}
BLOCK = {"norm1": "layernorm_before", "attn.proj": "attention.output.dense", "norm2": "layernorm_after",
         "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}
HEAD = {"0.dense": "classifier.pooler.dense", "1": "classifier.0", "2": "classifier.1", "4": "classifier.3"}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        lo, hi = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(buf[8 + n + lo:8 + n + hi], "<f4").reshape(info["shape"]).copy())
    return out


def from_hf(hf, cfg, kind, head_module="classifier"):
    """The twin of original.FromHF: HF state dict -> original TVLT module's."""
    p = "" if kind == "base" else "tvlt."
    out = collections.OrderedDict()
    for name, (h, part) in TOP.items():
        if part == "dec" and not (kind == "pretraining" and cfg.get("task_mae", True)):
            continue
        if part == "match" and not (kind == "pretraining" and cfg.get("task_matching", True)):
            continue
        t = hf[p + h if part == "enc" else h]
        if name in PADDED:
            rows = max(PADDED[name], t.shape[1])
            t = torch.cat([t, torch.zeros(1, rows - t.shape[1], t.shape[2])], 1)
        out[name] = t
    blocks = [("blocks", p + "encoder.layer", cfg["num_hidden_layers"])]
    if kind == "pretraining" and cfg.get("task_mae", True):
        blocks.append(("decoder_blocks", "decoder.decoder_layers", cfg["decoder_num_hidden_layers"]))
    for orig, hfp, n in blocks:
        for i in range(n):
            a, b = f"{orig}.{i}.", f"{hfp}.{i}."
            for kind_ in ("weight", "bias"):
                out[a + "attn.qkv." + kind_] = torch.cat(
                    [hf[b + "attention.attention." + x + "." + kind_] for x in ("query", "key", "value")], 0)
                for o, h in BLOCK.items():
                    out[a + o + "." + kind_] = hf[b + h + "." + kind_]
    if kind == "classification":
        for o, h in HEAD.items():
            for kind_ in ("weight", "bias"):
                out[f"{head_module}.{o}.{kind_}"] = hf[h + "." + kind_]
    return out


def original_config(cfg, kind, loss, labels=None):
    """hyper_parameters["config"] as the original's Lightning module saves it."""
    names = {k: 0 for k in ("vam", "vatr", "vtm", "mae_audio", "mae_video", "vqa", "mlm", "mosei", "moseiemo")}
    names.update(loss)
    size = cfg["image_size"] if isinstance(cfg["image_size"], int) else cfg["image_size"][0]
    c = {
        "exp_name": "golden", "seed": 0, "datasets": [], "loss_names": names, "batch_size": 2,
        "max_text_len": 40, "draw_false_text": 0, "tokenizer": "bert-base-uncased", "vocab_size": 30522,
        "whole_word_masking": False, "mlm_prob": 0.15, "use_text": False,
        "video_size": size, "draw_false_video": 1, "video_only": False, "max_frames": MAX_FRAMES,
        "num_frames": cfg["num_frames"], "use_video": True,
        "audio_size": cfg["spectrogram_length"], "frequency_size": cfg["frequency_length"],
        "max_audio_patches": MAX_AUDIO_PATCHES, "draw_false_audio": 0, "use_audio": True, "audio_only": False,
        "frame_masking": cfg["audio_mask_type"] == "frame-level",
        "model_type": "tvlt_go_custom",  # no registered function has these sizes
        "patch_size": cfg["image_patch_size"][0], "audio_patch_size": list(cfg["audio_patch_size"]),
        "hidden_size": cfg["hidden_size"], "decoder_hidden_size": cfg["decoder_hidden_size"],
        "num_heads": cfg["num_attention_heads"], "decoder_num_heads": cfg["decoder_num_attention_heads"],
        "num_layers": cfg["num_hidden_layers"], "mlp_ratio": cfg["intermediate_size"] // cfg["hidden_size"],
        "use_mae": kind == "pretraining", "drop_rate": 0.1,
        "optim_type": "adamw", "learning_rate": 1e-4, "weight_decay": 0.001, "decay_power": 1,
        "max_epoch": 100, "max_steps": 1000000.0, "warmup_steps": 2500,
        "vqav2_label_size": labels or 3129, "get_va_recall_metric": False,
        "fast_dev_run": False, "val_check_interval": 1.0, "test_only": False,
        "data_root": "", "log_dir": "result", "per_gpu_batchsize": 1, "num_gpus": 1, "num_nodes": 1,
        "strict_load": False, "load_local_path": "", "load_hub_path": "TVLT.ckpt", "num_workers": 0,
    }
    return c


def lightning(state, hparams):
    """A PyTorch Lightning 1.6 checkpoint of model_module.Transformer."""
    sd = collections.OrderedDict(("transformer." + k, v) for k, v in state.items())
    first = next(iter(sd.values()))
    return {
        "epoch": 0, "global_step": 0, "pytorch-lightning_version": "1.6.5",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 1, "completed": 0}}}},
        "callbacks": {},
        "optimizer_states": [{
            "state": {0: {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(first),
                          "exp_avg_sq": torch.zeros_like(first)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": 0.001,
                              "correct_bias": True, "initial_lr": 1e-4, "params": [0]}],
        }],
        "lr_schedulers": [{"base_lrs": [1e-4], "last_epoch": 0, "_step_count": 1, "verbose": False,
                           "_get_lr_called_within_step": False, "_last_lr": [0.0], "lr_lambdas": [None]}],
        "hparams_name": "kwargs",
        "hyper_parameters": hparams,
    }


def head_logits(cls, state, module, eps=1e-5):
    """The original head: Sequential(Pooler, Linear, LayerNorm, GELU, Linear) on CLS."""
    x = torch.tanh(cls @ state[module + ".0.dense.weight"].T + state[module + ".0.dense.bias"])
    x = x @ state[module + ".1.weight"].T + state[module + ".1.bias"]
    x = torch.nn.functional.layer_norm(x, x.shape[-1:], state[module + ".2.weight"], state[module + ".2.bias"], eps)
    x = torch.nn.functional.gelu(x)
    return x @ state[module + ".4.weight"].T + state[module + ".4.bias"]


def save(out, name, ckpt, state, hparams=None):
    torch.save(ckpt, os.path.join(out, name + ".ckpt"))
    sd = ckpt["state_dict"] if "state_dict" in ckpt else ckpt
    np.savez(os.path.join(out, name + ".npz"), **{k: v.numpy() for k, v in sd.items()})
    if hparams is not None:
        with open(os.path.join(out, name + ".hparams.json"), "w") as f:
            json.dump(hparams, f, indent=1, sort_keys=True)


def main(golden, out):
    torch.manual_seed(0)
    os.makedirs(out, exist_ok=True)
    load = lambda name: json.load(open(os.path.join(golden, name)))
    cfg, cfg_cls, cfg_reg = load("config.json"), load("config_classification.json"), load("config_regression.json")
    pre = read_safetensors(os.path.join(golden, "weights.safetensors"))
    cls_w = read_safetensors(os.path.join(golden, "weights_classification.safetensors"))
    reg_w = read_safetensors(os.path.join(golden, "weights_regression.safetensors"))
    fwd = np.load(os.path.join(golden, "model_forward.npz"))
    for other in (cls_w, reg_w):  # the golden README: the same tvlt.* weights in every model
        for k, v in other.items():
            if k.startswith("tvlt."):
                assert torch.equal(v, pre[k]), f"{k} differs between the golden weight files"
    cls = torch.from_numpy(fwd["last_hidden_state"][:, 0].copy())
    gen = torch.Generator().manual_seed(14)
    d = cfg["hidden_size"]

    def pooler(hf):
        """Adds the tanh pooler HF's head lacks (the tvlt-go name), drawn."""
        hf = dict(hf)
        hf["classifier.pooler.dense.weight"] = 0.2 * torch.randn(d, d, generator=gen)
        hf["classifier.pooler.dense.bias"] = 0.1 * torch.randn(d, generator=gen)
        return hf

    expected = {}
    st = from_hf(pre, cfg, "pretraining")
    hp = {"config": original_config(cfg, "pretraining", {"vam": 1, "mae_audio": 1, "mae_video": 1}), "model_type": "transformer"}
    save(out, "pretraining", lightning(st, hp), st, hp)

    enc = {k[len("tvlt."):]: v for k, v in pre.items() if k.startswith("tvlt.")}
    st = from_hf(enc, cfg, "base")
    save(out, "encoder", st, st)

    st = from_hf(pooler(reg_w), cfg_reg, "classification")
    hp = {"config": original_config(cfg_reg, "classification", {"mosei": 1}), "model_type": "transformer"}
    save(out, "mosei", lightning(st, hp), st, hp)
    expected["mosei/logits"] = head_logits(cls, st, "classifier")

    emo = dict(cls_w)
    emo["classifier.3.weight"] = 0.1 * torch.randn(len(EMOTIONS), 2 * d, generator=gen)
    emo["classifier.3.bias"] = 0.1 * torch.randn(len(EMOTIONS), generator=gen)
    st = from_hf(pooler(emo), cfg_cls, "classification")
    save(out, "moseiemo", st, st)
    expected["moseiemo/logits"] = head_logits(cls, st, "classifier")

    labels = cls_w["classifier.3.weight"].shape[0]
    st = from_hf(pooler(cls_w), cfg_cls, "classification", "vqa_classifier")
    hp = {"config": original_config(cfg_cls, "classification", {"vqa": 1}, labels), "model_type": "transformer"}
    save(out, "vqa", lightning(st, hp), st, hp)
    expected["vqa/logits"] = head_logits(cls, st, "vqa_classifier")

    np.savez(os.path.join(out, "expected.npz"), **{k: v.numpy() for k, v in expected.items()})
    hub = collections.OrderedDict(pre.items())
    torch.save(hub, os.path.join(out, "pytorch_model.bin"))
    torch.save(hub, os.path.join(out, "pytorch_model_legacy.bin"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
