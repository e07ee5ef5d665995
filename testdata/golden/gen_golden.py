#!/usr/bin/python3
"""Independent PyTorch reference for HF's TVLT, used to produce extra golden sets.

This re-implements HuggingFace's TvltModel, TvltForPreTraining and
TvltForAudioVisualClassification (transformers' deprecated/tvlt, unchanged since
the first release) from /work/shared/docs/tvlt-architecture.md and the public
golden README, with HF's exact state-dict names, and writes golden sets laid
out exactly like the public one (see testdata/golden/README.md).

Usage (Debian's torch and numpy, i.e. /usr/bin/python3):

    /usr/bin/python3 testdata/golden/gen_golden.py --check-public /work/shared/golden
    /usr/bin/python3 testdata/golden/gen_golden.py --out testdata/golden/variants

--check-public loads the public weights and inputs, replays the recorded
ids_shuffle and verifies every recorded output, loss, gradient and AdamW
parameter; it exits non-zero if any key differs by more than --tol.
--out regenerates every variant (byte-identical on the same torch/numpy).
"""

import argparse
import hashlib
import io
import json
import math
import os
import re
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# ---------------------------------------------------------------------------
# Configuration


CONFIG_DEFAULTS = {
    "image_size": 224,
    "spectrogram_length": 2048,
    "frequency_length": 128,
    "image_patch_size": [16, 16],
    "audio_patch_size": [16, 16],
    "num_image_channels": 3,
    "num_audio_channels": 1,
    "num_frames": 8,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-6,
    "qkv_bias": True,
    "use_mean_pooling": False,
    "decoder_num_attention_heads": 16,
    "decoder_hidden_size": 512,
    "decoder_num_hidden_layers": 8,
    "decoder_intermediate_size": 2048,
    "pixel_mask_ratio": 0.75,
    "audio_mask_ratio": 0.15,
    "audio_mask_type": "frame-level",
    "task_matching": True,
    "task_mae": True,
    "loss_type": "classification",
}


class Config:
    """A TvltConfig as a plain object; image_size is normalised to (H, W)."""

    def __init__(self, d):
        d = dict(d)
        for k, v in CONFIG_DEFAULTS.items():
            d.setdefault(k, v)
        self.raw = d
        for k, v in d.items():
            setattr(self, k, v)
        if isinstance(self.image_size, int):
            self.image_hw = (self.image_size, self.image_size)
        else:
            self.image_hw = tuple(self.image_size)
        # HF's config check spells it with an underscore, its forward with a hyphen.
        self.mask_type = "patch-level" if self.audio_mask_type in ("patch_level", "patch-level") else self.audio_mask_type
        self.num_labels = d.get("num_labels", 2)
        assert self.hidden_act == "gelu"
        assert self.hidden_dropout_prob == 0.0 and self.attention_probs_dropout_prob == 0.0

    @property
    def patches_per_frame(self):
        return (self.image_hw[0] // self.image_patch_size[0]) * (self.image_hw[1] // self.image_patch_size[1])

    @property
    def freq_patches(self):
        return self.frequency_length // self.audio_patch_size[1]

    @property
    def time_patches_max(self):
        return self.spectrogram_length // self.audio_patch_size[0]


# ---------------------------------------------------------------------------
# Modules (attribute names give HF's state-dict names)


class TvltSelfAttention(nn.Module):
    def __init__(self, d, heads, qkv_bias):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.query = nn.Linear(d, d, bias=qkv_bias)
        self.key = nn.Linear(d, d, bias=qkv_bias)
        self.value = nn.Linear(d, d, bias=qkv_bias)

    def forward(self, x, bias):
        b, s, _ = x.shape

        def split(t):
            return t.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

        k = split(self.key(x))
        v = split(self.value(x))
        q = split(self.query(x))
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / math.sqrt(self.head_dim)
        if bias is not None:
            scores = scores + bias
        probs = F.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(b, s, self.heads * self.head_dim)


class TvltSelfOutput(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense = nn.Linear(d, d)


class TvltAttention(nn.Module):
    def __init__(self, d, heads, qkv_bias):
        super().__init__()
        self.attention = TvltSelfAttention(d, heads, qkv_bias)
        self.output = TvltSelfOutput(d)


class TvltDense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class TvltLayer(nn.Module):
    """Pre-LN ViT block, HF registration order."""

    def __init__(self, d, heads, inter, qkv_bias, eps):
        super().__init__()
        self.attention = TvltAttention(d, heads, qkv_bias)
        self.intermediate = TvltDense(d, inter)
        self.output = TvltDense(inter, d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, x, bias):
        a = self.attention.attention(self.layernorm_before(x), bias)
        a = self.attention.output.dense(a)
        x = a + x
        y = self.layernorm_after(x)
        y = F.gelu(self.intermediate.dense(y))
        y = self.output.dense(y)
        return y + x


class TvltPatchEmbeddings(nn.Module):
    def __init__(self, cin, d, patch):
        super().__init__()
        self.projection = nn.Conv2d(cin, d, kernel_size=tuple(patch), stride=tuple(patch))


class TvltPixelEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c.hidden_size
        self.patch_embeddings = TvltPatchEmbeddings(c.num_image_channels, d, c.image_patch_size)
        self.np = c.patches_per_frame
        self.type_embed_v = nn.Parameter(torch.zeros(1, 1, d))
        self.temporal_embed = nn.Parameter(torch.zeros(1, c.num_frames, d))
        self.pos_embed_v = nn.Parameter(torch.zeros(1, self.np, d))
        self.c = c

    def forward(self, pixel_values):
        b, t, ch, h, w = pixel_values.shape
        c = self.c
        if ch != c.num_image_channels or (h, w) != c.image_hw or t > c.num_frames:
            raise ValueError("pixel_values shape %s does not fit the config" % (tuple(pixel_values.shape),))
        x = self.patch_embeddings.projection(pixel_values.reshape(b * t, ch, h, w))
        x = x.flatten(2).transpose(1, 2).reshape(b, t * self.np, -1)
        x = x + self.pos_embed_v.repeat(1, t, 1)
        x = x + torch.repeat_interleave(self.temporal_embed[:, :t], self.np, dim=1)
        x = x + self.type_embed_v
        return x


class TvltAudioEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c.hidden_size
        self.patch_embeddings = TvltPatchEmbeddings(c.num_audio_channels, d, c.audio_patch_size)
        self.f = c.freq_patches
        self.type_embed_a = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed_a = nn.Parameter(torch.zeros(1, c.time_patches_max, d))
        self.freq_embed = nn.Parameter(torch.zeros(1, self.f, d))
        self.c = c

    def forward(self, audio_values):
        b, ch, h, w = audio_values.shape
        c = self.c
        if ch != c.num_audio_channels or h > c.spectrogram_length or w != c.frequency_length:
            raise ValueError("audio_values shape %s does not fit the config" % (tuple(audio_values.shape),))
        x = self.patch_embeddings.projection(audio_values).flatten(2).transpose(1, 2)
        tp = x.size(1) // self.f
        x = x + self.freq_embed.repeat(1, tp, 1)
        x = x + torch.repeat_interleave(self.pos_embed_a[:, :tp], self.f, dim=1)
        x = x + self.type_embed_a
        return x


class TvltEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(
            TvltLayer(c.hidden_size, c.num_attention_heads, c.intermediate_size, c.qkv_bias, c.layer_norm_eps)
            for _ in range(c.num_hidden_layers))


def len_keep_of(n, ratio):
    """HF: int(seq_len * (1 - mask_ratio)) in Python float64, truncated."""
    return int(n * (1 - ratio))


class Masking:
    """Records one modality's MAE masking, optionally replaying ids_shuffle."""

    def __init__(self, noise, len_keep, replay_shuffle=None):
        self.noise = noise
        self.len_keep = len_keep
        if replay_shuffle is None:
            self.ids_shuffle = torch.argsort(noise, dim=1)
        else:
            self.ids_shuffle = replay_shuffle
        self.ids_restore = torch.argsort(self.ids_shuffle, dim=1)
        self.ids_keep = self.ids_shuffle[:, :len_keep]

    def apply(self, x, attn):
        b, l, d = x.shape
        kept = torch.gather(x, 1, self.ids_keep.unsqueeze(-1).repeat(1, 1, d))
        label = torch.ones(b, l)
        label[:, :self.len_keep] = 0
        label = torch.gather(label, 1, self.ids_restore)
        kept_attn = None
        if attn is not None:
            label = label * attn
            kept_attn = torch.gather(attn, 1, self.ids_keep)
        self.label_masks = label
        self.kept_attention_mask = kept_attn
        return kept, kept_attn


class TvltModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.cls_embedding = nn.Parameter(torch.zeros(1, 1, c.hidden_size))
        self.pixel_embeddings = TvltPixelEmbeddings(c)
        self.audio_embeddings = TvltAudioEmbeddings(c)
        self.encoder = TvltEncoder(c)
        if not c.use_mean_pooling:
            self.layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, pixel_values, audio_values, pixel_mask=None, audio_mask=None, mae=None):
        """mae: None, or a callable (ep, ea) -> (pixel Masking, audio Masking)."""
        c = self.c
        ep = self.pixel_embeddings(pixel_values)
        ea = self.audio_embeddings(audio_values)
        pm, am = pixel_mask, audio_mask
        masks = None
        if mae is not None:
            pmask, amask = mae(ep, ea)
            ep, pm = pmask.apply(ep, pm)
            ea, am = amask.apply(ea, am)
            masks = (pmask, amask)
        b = pixel_values.size(0)
        x = torch.cat([self.cls_embedding.repeat(b, 1, 1), ep, ea], 1)
        bias = None
        key_mask = None
        if pm is not None and am is not None:
            key_mask = torch.cat([pm[:, :1], pm, am], 1)
            bias = (1.0 - key_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        hidden = [x]
        for layer in self.encoder.layer:
            x = layer(x, bias)
            hidden.append(x)
        if not c.use_mean_pooling:
            x = self.layernorm(x)
        lp = ep.size(1)
        return {
            "last_hidden_state": x,
            "last_pixel_hidden_state": x[:, 1:1 + lp],
            "last_audio_hidden_state": x[:, 1 + lp:],
            "hidden_states": hidden,
            "masks": masks,
            "key_mask": key_mask,
        }


class TvltPooler(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense = nn.Linear(d, d)


class TvltMatchingHead(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.pooler = TvltPooler(d)
        self.fc = nn.Linear(d, 1)

    def forward(self, h):
        return self.fc(torch.tanh(self.pooler.dense(h[:, 0])))


class TvltDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.decoder_layers = nn.ModuleList(
            TvltLayer(c.decoder_hidden_size, c.decoder_num_attention_heads, c.decoder_intermediate_size,
                      c.qkv_bias, c.layer_norm_eps)
            for _ in range(c.decoder_num_hidden_layers))
        self.layernorm = nn.LayerNorm(c.decoder_hidden_size, eps=c.layer_norm_eps)

    def forward(self, x):
        for layer in self.decoder_layers:
            x = layer(x, None)
        return self.layernorm(x)


class TvltMAEHead(nn.Module):
    def __init__(self, d, out):
        super().__init__()
        self.decoder = nn.Linear(d, out)


class TvltForPreTraining(nn.Module):
    def __init__(self, c):
        super().__init__()
        assert c.task_matching and c.task_mae
        self.c = c
        self.tvlt = TvltModel(c)
        self.matching_head = TvltMatchingHead(c.hidden_size)
        dd = c.decoder_hidden_size
        self.encoder_to_decoder = nn.Linear(c.hidden_size, dd)
        self.pixel_mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.audio_mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder = TvltDecoder(c)
        self.decoder_pixel_pos_embed = nn.Parameter(torch.zeros(1, c.patches_per_frame, dd))
        self.decoder_temporal_embed = nn.Parameter(torch.zeros(1, c.num_frames, dd))
        self.decoder_pixel_type_embed = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_audio_pos_embed = nn.Parameter(torch.zeros(1, c.time_patches_max, dd))
        self.decoder_freq_embed = nn.Parameter(torch.zeros(1, c.freq_patches, dd))
        self.decoder_audio_type_embed = nn.Parameter(torch.zeros(1, 1, dd))
        # HF uses image_patch_size[0] twice: square image patches only.
        self.pixel_mae_head = TvltMAEHead(dd, c.image_patch_size[0] ** 2 * c.num_image_channels)
        self.audio_mae_head = TvltMAEHead(dd, c.audio_patch_size[0] * c.audio_patch_size[1] * c.num_audio_channels)


def concatenate_mask(token, seq, ids_restore):
    b, s, d = seq.shape
    tokens = token.repeat(b, ids_restore.shape[1] - s, 1)
    full = torch.cat([seq, tokens], 1)
    return torch.gather(full, 1, ids_restore.unsqueeze(-1).repeat(1, 1, d))


def patchify_pixel(c, pv):
    b, t, ch, h, w = pv.shape
    p, q = c.image_patch_size
    nh, nw = h // p, w // q
    x = pv.reshape(b, t, ch, nh, p, nw, q)
    x = torch.einsum("ntchpwq->nthwpqc", x)
    return x.reshape(b, nh * nw * t, p * q * ch)


def patchify_audio(c, av):
    b, ch, h, w = av.shape
    p, q = c.audio_patch_size
    nh, nw = h // p, w // q
    x = av.reshape(b, ch, nh, p, nw, q)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(b, nh * nw, p * q * ch)


def mae_loss(pred, target, mask):
    loss = ((pred - target) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def pretraining_forward(model, inp, seed, replay=None):
    """TvltForPreTraining.forward in training mode; returns (record, loss).

    Noise is drawn with torch.rand right after torch.manual_seed(seed), in
    HF's order (pixel, then audio). With replay, the recorded ids_shuffle and
    len_keep replace the sort of the drawn noise.
    """
    c = model.c
    rec = {}
    labels = inp["matching_labels"]
    mout = model.tvlt(inp["pixel_values_mixed"], inp["audio_values"], inp["pixel_mask_mixed"], inp["audio_mask"])
    matching_logits = model.matching_head(mout["last_hidden_state"])
    matching_loss = F.binary_cross_entropy_with_logits(matching_logits.view(-1), labels.view(-1))
    total = 0.0
    total = total + matching_loss

    def mae(ep, ea):
        b, lp, _ = ep.shape
        _, la, _ = ea.shape
        pnoise = torch.rand(b, lp)
        pkeep = len_keep_of(lp, c.pixel_mask_ratio)
        if c.mask_type == "frame-level":
            frames = torch.rand(b, la // c.freq_patches)
            anoise = frames.unsqueeze(-1).repeat(1, 1, c.freq_patches).view(b, la)
            rec["audio_noise_frames"] = frames
        elif c.mask_type == "patch-level":
            anoise = torch.rand(b, la)
        else:
            raise ValueError("audio_mask_type %r" % c.audio_mask_type)
        akeep = len_keep_of(la, c.audio_mask_ratio)
        if replay is not None:
            assert pkeep == int(replay["pixel_len_keep"][0]) and akeep == int(replay["audio_len_keep"][0])
            pm = Masking(pnoise, pkeep, torch.from_numpy(replay["pixel_ids_shuffle"]))
            am = Masking(anoise, akeep, torch.from_numpy(replay["audio_ids_shuffle"]))
        else:
            pm = Masking(pnoise, pkeep)
            am = Masking(anoise, akeep)
        rec["pixel_noise"], rec["audio_noise"] = pnoise, anoise
        return pm, am

    torch.manual_seed(seed)
    out = model.tvlt(inp["pixel_values"], inp["audio_values"], inp["pixel_mask"], inp["audio_mask"], mae=mae)
    pm, am = out["masks"]
    zp = model.encoder_to_decoder(out["last_pixel_hidden_state"])
    t = inp["pixel_values"].size(1)
    zp = concatenate_mask(model.pixel_mask_token, zp, pm.ids_restore)
    zp = zp + model.decoder_pixel_pos_embed.repeat(1, t, 1)
    zp = zp + torch.repeat_interleave(model.decoder_temporal_embed[:, :t], c.patches_per_frame, dim=1)
    zp = zp + model.decoder_pixel_type_embed
    pdec = model.decoder(zp)
    pixel_logits = model.pixel_mae_head.decoder(pdec)

    za = model.encoder_to_decoder(out["last_audio_hidden_state"])
    ta = inp["audio_values"].size(2) // c.audio_patch_size[0]
    za = concatenate_mask(model.audio_mask_token, za, am.ids_restore)
    za = za + model.decoder_freq_embed.repeat(1, ta, 1)
    za = za + torch.repeat_interleave(model.decoder_audio_pos_embed[:, :ta], c.freq_patches, dim=1)
    za = za + model.decoder_audio_type_embed
    adec = model.decoder(za)
    audio_logits = model.audio_mae_head.decoder(adec)

    ptarget = patchify_pixel(c, inp["pixel_values"])
    atarget = patchify_audio(c, inp["audio_values"])
    pixel_loss = mae_loss(pixel_logits, ptarget, pm.label_masks)
    audio_loss = mae_loss(audio_logits, atarget, am.label_masks)
    total = total + (pixel_loss + audio_loss)

    def stable_matches(m):
        st = np.argsort(m.noise.numpy(), axis=1, kind="stable")
        return np.array([np.array_equal(st, m.ids_shuffle.numpy())])

    rec.update({
        "noise_seed": np.array([seed], dtype=np.int64),
        "pixel_len_keep": np.array([pm.len_keep], dtype=np.int64),
        "audio_len_keep": np.array([am.len_keep], dtype=np.int64),
        "pixel_ids_shuffle": pm.ids_shuffle, "audio_ids_shuffle": am.ids_shuffle,
        "pixel_ids_keep": pm.ids_keep, "audio_ids_keep": am.ids_keep,
        "pixel_ids_restore": pm.ids_restore, "audio_ids_restore": am.ids_restore,
        "pixel_kept_attention_mask": pm.kept_attention_mask, "audio_kept_attention_mask": am.kept_attention_mask,
        "pixel_stable_argsort_matches": stable_matches(pm), "audio_stable_argsort_matches": stable_matches(am),
        "pixel_label_masks": pm.label_masks, "audio_label_masks": am.label_masks,
        "cls_key_mask": out["key_mask"][:, :1],
        "matching_last_hidden_state": mout["last_hidden_state"],
        "mae_last_hidden_state": out["last_hidden_state"],
        "pixel_decoder_input": zp, "audio_decoder_input": za,
        "pixel_decoder_output": pdec, "audio_decoder_output": adec,
        "matching_logits": matching_logits,
        "pixel_logits": pixel_logits, "audio_logits": audio_logits,
        "pixel_patch_targets": ptarget, "audio_patch_targets": atarget,
        "loss": total.reshape(1),
        "matching_loss": matching_loss.reshape(1),
        "pixel_mae_loss": pixel_loss.reshape(1),
        "audio_mae_loss": audio_loss.reshape(1),
    })
    return rec, total


class TvltForAudioVisualClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tvlt = TvltModel(c)
        d = c.hidden_size
        self.classifier = nn.Sequential(
            nn.Linear(d, d * 2), nn.LayerNorm(d * 2, eps=c.layer_norm_eps), nn.GELU(), nn.Linear(d * 2, c.num_labels))

    def forward(self, inp, labels):
        h = self.tvlt(inp["pixel_values"], inp["audio_values"], inp["pixel_mask"], inp["audio_mask"])
        logits = self.classifier(h["last_hidden_state"][:, 0])
        if self.c.loss_type == "regression":
            loss = F.mse_loss(logits, labels)
        else:
            loss = F.cross_entropy(logits, labels)
        return logits, loss


# ---------------------------------------------------------------------------
# Weight init (HF _init_weights, then the public README's perturbation)


def init_weights(model, gen, std):
    """HF init (normal Linear/Conv weights, zero biases, LayerNorm 1/0, free
    parameters 0), then perturbed so nothing is trivially 0 or 1."""
    free = {id(p) for p in model.parameters()}
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * std)
                free.discard(id(mod.weight))
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.02)
                    free.discard(id(mod.bias))
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + torch.randn(mod.weight.shape, generator=gen) * 0.1)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.05)
                free.discard(id(mod.weight))
                free.discard(id(mod.bias))
        for _, p in model.named_parameters():
            if id(p) in free:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


# ---------------------------------------------------------------------------
# File formats


def npy_bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def to_np(v):
    if isinstance(v, torch.Tensor):
        v = v.detach().numpy()
    v = np.asarray(v)
    if v.dtype == np.float64:
        raise TypeError("float64 array in a golden file")
    if v.ndim == 0:
        v = v.reshape(1)
    return v


def write_npz(path, arrays):
    """Stored (not deflated) zip with a fixed timestamp, keys sorted."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for k in sorted(arrays):
            info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            z.writestr(info, npy_bytes(to_np(arrays[k])))


def read_npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def write_safetensors(path, tensors, metadata):
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(to_np(tensors[name]).astype("<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        s, e = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + s:8 + n + e], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_manifest(d):
    man = {}
    for name in sorted(os.listdir(d)):
        if name == "manifest.json":
            continue
        p = os.path.join(d, name)
        with open(p, "rb") as f:
            data = f.read()
        e = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if name.endswith(".npz"):
            e["keys"] = {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in sorted(read_npz(p).items())}
        elif name.endswith(".safetensors"):
            e["tensors"] = {k: list(v.shape) for k, v in sorted(read_safetensors(p).items())}
        man[name] = e
    # Same structure as the public manifest; shapes and per-key entries are
    # kept on one line so the file stays small.
    text = json.dumps(man, indent=2, sort_keys=True)
    text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    text = re.sub(r"\[\s+\]", "[]", text)
    text = re.sub(r"\{\s+(\"dtype\": \"\w+\"),\s+(\"shape\": \[[^\]]*\])\s+\}", r"{\1, \2}", text)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write(text + "\n")


def load_state(model, arrays):
    sd = model.state_dict()
    if set(sd) != set(arrays):
        raise ValueError("state dict mismatch: missing %s, unexpected %s"
                         % (sorted(set(sd) - set(arrays)), sorted(set(arrays) - set(sd))))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})


def grads_of(model, prefix="grad/"):
    out = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        out[prefix + name] = g.detach().clone()
    return out


def base_state(pre_state):
    return {k[len("tvlt."):]: v for k, v in pre_state.items() if k.startswith("tvlt.")}


def torch_inputs(arrays):
    out = {}
    for k, v in arrays.items():
        t = torch.from_numpy(np.array(v))
        out[k] = t
    return out


# ---------------------------------------------------------------------------
# Computing a golden set from (config, weights, inputs)


def model_forward_record(c, pre_state, inp, short):
    model = TvltModel(c)
    load_state(model, base_state(pre_state))
    model.eval()
    rec = {}
    with torch.no_grad():
        out = model(inp["pixel_values"], inp["audio_values"], inp["pixel_mask"], inp["audio_mask"])
        for k in ("last_hidden_state", "last_pixel_hidden_state", "last_audio_hidden_state"):
            rec[k] = out[k]
        for i, h in enumerate(out["hidden_states"]):
            rec["hidden_states/%d" % i] = h
        rec["nomask/last_hidden_state"] = model(inp["pixel_values"], inp["audio_values"])["last_hidden_state"]
        rec["short/last_hidden_state"] = model(short["pixel_values"], short["audio_values"], short["pixel_mask"],
                                               short["audio_mask"])["last_hidden_state"]
    for k, v in short.items():
        rec["short/" + k] = v
    return rec


def pretraining_record(c, pre_state, inp, seed, replay=None):
    model = TvltForPreTraining(c)
    load_state(model, pre_state)
    model.train()
    rec, loss = pretraining_forward(model, inp, seed, replay)
    loss.backward()
    grads = grads_of(model)
    return rec, grads


def adamw_record(c, pre_state, grads):
    model = TvltForPreTraining(c)
    load_state(model, pre_state)
    for name, p in model.named_parameters():
        p.grad = torch.from_numpy(np.array(to_np(grads["grad/" + name])))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                            amsgrad=False)
    opt.step()
    return {"param/" + n: p.detach().clone() for n, p in model.named_parameters()}


def finetune_record(c, state, inp, labels):
    model = TvltForAudioVisualClassification(c)
    load_state(model, state)
    model.train()
    logits, loss = model(inp, labels)
    loss.backward()
    rec = {"labels": labels, "logits": logits, "loss": loss.reshape(1)}
    rec.update(grads_of(model))
    return rec


# ---------------------------------------------------------------------------
# --check-public


def compare(name, got, want, tol, failures, report):
    got, want = to_np(got), np.asarray(want)
    if got.shape != want.shape:
        failures.append("%s: shape %s, want %s" % (name, got.shape, want.shape))
        return
    if want.dtype == np.bool_ or want.dtype.kind in "iu":
        ok = np.array_equal(got.astype(want.dtype), want)
        report.append((name, 0.0 if ok else float("inf"), "exact"))
        if not ok:
            failures.append("%s: differs" % name)
        return
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if want.size else 0.0
    report.append((name, err, ""))
    if not err <= tol:
        failures.append("%s: max abs error %.3g > %.3g" % (name, err, tol))


def check_public(d, tol):
    cfg = json.load(open(os.path.join(d, "config.json")))
    c = Config(cfg)
    pre_state = read_safetensors(os.path.join(d, "weights.safetensors"))
    inp = torch_inputs(read_npz(os.path.join(d, "inputs.npz")))
    failures, report = [], []

    want = read_npz(os.path.join(d, "model_forward.npz"))
    short = {k[len("short/"):]: torch.from_numpy(v) for k, v in want.items()
             if k.startswith("short/") and k != "short/last_hidden_state"}
    got = model_forward_record(c, pre_state, inp, short)
    for k in sorted(want):
        compare("model_forward.npz:" + k, got[k], want[k], tol, failures, report)
    if set(got) != set(want):
        failures.append("model_forward.npz keys differ: %s" % sorted(set(got) ^ set(want)))

    want = read_npz(os.path.join(d, "pretraining.npz"))
    seed = int(want["noise_seed"][0])
    got, grads = pretraining_record(c, pre_state, inp, seed, replay=want)
    for k in sorted(want):
        compare("pretraining.npz:" + k, got[k], want[k], tol, failures, report)
    if set(got) != set(want):
        failures.append("pretraining.npz keys differ: %s" % sorted(set(got) ^ set(want)))
    # Without replay, a plain torch.argsort of our own draws must give HF's permutation.
    got2, _ = pretraining_record(c, pre_state, inp, seed)
    for k in ("pixel_ids_shuffle", "audio_ids_shuffle"):
        compare("pretraining.npz:%s (own argsort, no replay)" % k, got2[k], want[k], tol, failures, report)

    wgrads = read_npz(os.path.join(d, "pretraining_grads.npz"))
    for k in sorted(wgrads):
        compare("pretraining_grads.npz:" + k, grads[k], wgrads[k], tol, failures, report)
    if set(grads) != set(wgrads):
        failures.append("pretraining_grads.npz keys differ")

    want = read_npz(os.path.join(d, "adamw_step.npz"))
    got = adamw_record(c, pre_state, wgrads)
    for k in sorted(want):
        compare("adamw_step.npz:" + k, got[k], want[k], tol, failures, report)
    # Informational only: at step 1 AdamW moves every element by about
    # lr * g / (|g| + eps), so gradients of size ~1e-8 turn float32 rounding
    # differences of the gradient into parameter differences of ~1e-6.
    got_own = adamw_record(c, pre_state, {k: v.numpy() for k, v in grads.items()})
    worst = max(float(np.max(np.abs(to_np(got_own[k]) - want[k]))) for k in want)
    print("info: AdamW step from our own gradients instead of the recorded ones: max abs error %.3g" % worst)

    for task in ("classification", "regression"):
        cc = Config(json.load(open(os.path.join(d, "config_%s.json" % task))))
        state = read_safetensors(os.path.join(d, "weights_%s.safetensors" % task))
        want = read_npz(os.path.join(d, "%s.npz" % task))
        got = finetune_record(cc, state, inp, torch.from_numpy(want["labels"]))
        for k in sorted(want):
            compare("%s.npz:%s" % (task, k), got[k], want[k], tol, failures, report)
        if set(got) != set(want):
            failures.append("%s.npz keys differ" % task)

    files = {}
    for name, err, kind in report:
        f, key = name.split(":", 1)
        files.setdefault(f, []).append((key, err, kind))
    for f, rows in files.items():
        print("== %s" % f)
        for key, err, kind in rows:
            print("  %-75s %s" % (key, "exact" if kind else "%.3g" % err))
        floats = [e for _, e, k in rows if not k]
        if floats:
            print("  -> max abs error over %d float keys: %.3g" % (len(floats), max(floats)))
    if failures:
        print("FAILURES:")
        for f in failures:
            print("  " + f)
        return 1
    print("public set reproduced: every key within %.0e" % tol)
    return 0


# ---------------------------------------------------------------------------
# Variants

BASE = dict(CONFIG_DEFAULTS)

VARIANTS = {
    # Non-square images, non-square audio patches, fewer frames than num_frames,
    # 3 layers / 2 heads, 3 decoder heads, eps 1e-12, batch 3, other mask ratios.
    "nonsquare": {
        "config": {
            "image_size": [12, 20], "image_patch_size": [4, 4], "num_frames": 3,
            "spectrogram_length": 40, "frequency_length": 24, "audio_patch_size": [8, 4],
            "hidden_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 24,
            "decoder_hidden_size": 12, "decoder_num_hidden_layers": 2, "decoder_num_attention_heads": 3,
            "decoder_intermediate_size": 16, "layer_norm_eps": 1e-12,
            "pixel_mask_ratio": 0.6, "audio_mask_ratio": 0.3, "audio_mask_type": "frame-level",
        },
        "batch": 3, "frames": 2, "audio_rows": 40,
        # per example: real frames, real spectrogram rows (a partly filled last
        # time patch counts as real, like the feature extractor's mask)
        "pixel_real": [2, 1, 2], "audio_real": [40, 28, 16],
        "matching": [1, 0, 1],
        "short_frames": 1, "short_rows": 16,
        "class_labels": [1, 0, 1], "num_labels": 2,
        "reg_labels": [[0.25], [-2.0], [1.5]],
        "seed": 101,
    },
    # Patch-level audio masking, qkv_bias false, batch size 1.
    "patchlevel": {
        "config": {
            "image_size": 16, "image_patch_size": [4, 4], "num_frames": 2,
            "spectrogram_length": 32, "frequency_length": 16, "audio_patch_size": [4, 4],
            "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
            "decoder_hidden_size": 8, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 2,
            "decoder_intermediate_size": 16, "layer_norm_eps": 1e-6, "qkv_bias": False,
            "pixel_mask_ratio": 0.5, "audio_mask_ratio": 0.25, "audio_mask_type": "patch_level",
        },
        "batch": 1, "frames": 2, "audio_rows": 32,
        "pixel_real": [2], "audio_real": [24],
        "matching": [0],
        "short_frames": 1, "short_rows": 16,
        "class_labels": [2], "num_labels": 3,
        "reg_labels": [[0.4]],
        "seed": 202,
    },
    # use_mean_pooling (no final LayerNorm), 5 labels, eps 1e-5, frame-level
    # audio shorter than spectrogram_length, 3 of 4 frames.
    "meanpool": {
        "config": {
            "image_size": 12, "image_patch_size": [4, 4], "num_frames": 4,
            "spectrogram_length": 64, "frequency_length": 16, "audio_patch_size": [8, 4],
            "hidden_size": 20, "num_hidden_layers": 2, "num_attention_heads": 5, "intermediate_size": 28,
            "decoder_hidden_size": 12, "decoder_num_hidden_layers": 2, "decoder_num_attention_heads": 4,
            "decoder_intermediate_size": 24, "layer_norm_eps": 1e-5, "use_mean_pooling": True,
            # int(20 * (1 - 0.8)) = int(3.999999999999999) = 3, not 4: len_keep
            # must be computed in float64 exactly like Python.
            "pixel_mask_ratio": 0.75, "audio_mask_ratio": 0.8, "audio_mask_type": "frame-level",
        },
        "batch": 2, "frames": 3, "audio_rows": 40,
        "pixel_real": [3, 2], "audio_real": [40, 24],
        "matching": [0, 1],
        "short_frames": 1, "short_rows": 16,
        "class_labels": [4, 1], "num_labels": 5,
        "reg_labels": [[-0.5], [2.25]],
        "seed": 303,
    },
}


def variant_config(spec, arch, task=None, num_labels=None):
    d = dict(BASE)
    d.update(spec["config"])
    d["architectures"] = [arch]
    d["model_type"] = "tvlt"
    if task is not None:
        d["loss_type"] = task
        d["num_labels"] = num_labels
        d["id2label"] = {str(i): "LABEL_%d" % i for i in range(num_labels)}
        d["label2id"] = {"LABEL_%d" % i: i for i in range(num_labels)}
    return d


def variant_inputs(c, spec, gen):
    b, t, rows = spec["batch"], spec["frames"], spec["audio_rows"]
    h, w = c.image_hw
    ch = c.num_image_channels
    npf = c.patches_per_frame
    pt, f = c.audio_patch_size[0], c.freq_patches

    def video():
        return torch.rand(b, t, ch, h, w, generator=gen) * 2 - 1

    pv = video()
    pmask = torch.zeros(b, t * npf)
    for i, real in enumerate(spec["pixel_real"]):
        pv[i, real:] = 0
        pmask[i, :real * npf] = 1
    av = torch.rand(b, c.num_audio_channels, rows, c.frequency_length, generator=gen) * 2 - 1
    amask = torch.zeros(b, rows // pt * f)
    for i, real in enumerate(spec["audio_real"]):
        av[i, :, real:] = 0
        amask[i, :-(-real // pt) * f] = 1
    other = video()
    pvm = pv.clone()
    pmm = pmask.clone()
    for i, m in enumerate(spec["matching"]):
        if not m:
            pvm[i] = other[i]
            pmm[i] = 1
    labels = torch.tensor(spec["matching"], dtype=torch.float32).view(b, 1)
    inp = {"pixel_values": pv, "pixel_mask": pmask, "audio_values": av, "audio_mask": amask,
           "pixel_values_mixed": pvm, "pixel_mask_mixed": pmm, "matching_labels": labels}
    sf, sr = spec["short_frames"], spec["short_rows"]
    short = {"pixel_values": pv[:, :sf].clone(), "pixel_mask": pmask[:, :sf * npf].clone(),
             "audio_values": av[:, :, :sr].clone(), "audio_mask": amask[:, :sr // pt * f].clone()}
    return inp, short


def pick_seed(c, pre_state, inp, start, want_cls_zero):
    """First seed from start whose masking removes real patches of both
    modalities and, when a padded example exists, masks the CLS key (quirk 1)."""
    model = TvltForPreTraining(c)
    load_state(model, pre_state)
    model.train()
    for seed in range(start, start + 2000):
        with torch.no_grad():
            rec, _ = pretraining_forward(model, inp, seed)
        if rec["pixel_label_masks"].sum() == 0 or rec["audio_label_masks"].sum() == 0:
            continue
        if not all(bool(torch.isfinite(rec[k]).all()) for k in ("loss", "pixel_mae_loss", "audio_mae_loss")):
            continue
        cls = rec["cls_key_mask"]
        if want_cls_zero and not (bool((cls == 0).any()) and bool((cls == 1).any())):
            continue
        return seed
    raise RuntimeError("no suitable noise seed")


def generate_variant(root, name, spec):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    cfg = variant_config(spec, "TvltForPreTraining")
    c = Config(cfg)
    assert c.image_patch_size[0] == c.image_patch_size[1], "pixel MAE head needs square image patches"
    gen = torch.Generator().manual_seed(spec["seed"])

    pre = TvltForPreTraining(c)
    init_weights(pre, gen, c.initializer_range)
    pre_state = {k: v.detach().numpy().copy() for k, v in pre.state_dict().items()}
    inp, short = variant_inputs(c, spec, gen)

    write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "weights.safetensors"), pre_state,
                      {"format": "pt", "model": "TvltForPreTraining"})
    write_npz(os.path.join(d, "inputs.npz"), inp)

    write_npz(os.path.join(d, "model_forward.npz"), model_forward_record(c, pre_state, inp, short))

    padded = any(r < spec["frames"] for r in spec["pixel_real"])
    seed = pick_seed(c, pre_state, inp, spec["seed"] * 100, padded and spec["batch"] > 1)
    rec, grads = pretraining_record(c, pre_state, inp, seed)
    write_npz(os.path.join(d, "pretraining.npz"), rec)
    write_npz(os.path.join(d, "pretraining_grads.npz"), grads)
    write_npz(os.path.join(d, "adamw_step.npz"), adamw_record(c, pre_state, grads))

    summary = {"noise_seed": seed, "cls_key_mask": rec["cls_key_mask"].view(-1).tolist(),
               "pixel_len_keep": int(rec["pixel_len_keep"][0]), "audio_len_keep": int(rec["audio_len_keep"][0]),
               "audio_stable_argsort_matches": bool(rec["audio_stable_argsort_matches"][0]),
               "pixel_stable_argsort_matches": bool(rec["pixel_stable_argsort_matches"][0])}

    for task, labels, nl in (
            ("classification", torch.tensor(spec["class_labels"], dtype=torch.int64), spec["num_labels"]),
            ("regression", torch.tensor(spec["reg_labels"], dtype=torch.float32), 1)):
        tcfg = variant_config(spec, "TvltForAudioVisualClassification", task, nl)
        tc = Config(tcfg)
        model = TvltForAudioVisualClassification(tc)
        init_weights(model, gen, tc.initializer_range)
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        for k in state:
            if k.startswith("tvlt."):
                state[k] = pre_state[k].copy()
        write_json(os.path.join(d, "config_%s.json" % task), tcfg)
        write_safetensors(os.path.join(d, "weights_%s.safetensors" % task), state,
                          {"format": "pt", "model": "TvltForAudioVisualClassification", "loss_type": task})
        rec_t = finetune_record(tc, state, inp, labels)
        write_npz(os.path.join(d, "%s.npz" % task), rec_t)
        summary[task + "_loss"] = float(rec_t["loss"][0])
    summary["pretraining_loss"] = float(rec["loss"][0])
    write_manifest(d)
    total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("%s: %d bytes, %s" % (name, total, json.dumps(summary)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-public", metavar="DIR", help="verify the reference against a public golden set")
    ap.add_argument("--out", metavar="DIR", help="write the variant sets into DIR/<name>/")
    ap.add_argument("--only", nargs="*", help="variant names to generate (default: all)")
    ap.add_argument("--tol", type=float, default=1e-6, help="max abs error for --check-public")
    args = ap.parse_args()
    if not args.check_public and not args.out:
        ap.error("give --check-public DIR and/or --out DIR")
    if args.check_public:
        rc = check_public(args.check_public, args.tol)
        if rc:
            return rc
    if args.out:
        for name, spec in VARIANTS.items():
            if args.only and name not in args.only:
                continue
            generate_variant(args.out, name, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
