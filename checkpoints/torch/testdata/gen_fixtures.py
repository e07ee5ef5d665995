"""Writes the torch.save fixtures of checkpoints/torch's tests into OUTDIR.

Run by the Go tests with Debian's /usr/bin/python3 (python3-torch):

    /usr/bin/python3 gen_fixtures.py OUTDIR

For every fixture NAME.{bin,ckpt,pth} it writes NAME.npz with the state dict
as numpy arrays the Go reader must reproduce exactly (float16 and bfloat16
widened to float32, other floats and integers as saved) and NAME.json with
the tensor order, dtypes, the expected top-level extra keys and the
hyper-parameters as JSON.
"""

import argparse
import collections
import io
import json
import os
import sys

import numpy as np
import torch


def state_dict():
    """A state dict exercising every layout the reader must handle."""
    g = torch.Generator().manual_seed(7)
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(3, 4, generator=g))
        lin.bias.copy_(torch.randn(3, generator=g))
    # A real module's state dict: an OrderedDict with _metadata (BUILD).
    sd = lin.state_dict(prefix="enc.lin.")
    base = torch.randn(5, 6, generator=g)
    sd["enc.transposed"] = base.t()  # non-contiguous, strides (1, 6)
    shared = torch.randn(40, generator=g)
    sd["enc.shared_a"] = shared[:12].view(3, 4)  # shares one storage
    sd["enc.slice"] = shared[15:27].view(2, 6)  # storage offset 15
    sd["enc.every_other"] = shared.view(4, 10)[:, ::2]  # strides (10, 2)
    sd["half"] = torch.randn(2, 3, generator=g).half()
    sd["half_special"] = torch.tensor(
        [0.0, -0.0, 65504.0, 6e-8, -2.0 ** -14, float("inf"), float("-inf")],
        dtype=torch.float16)
    sd["bf16"] = torch.randn(3, 2, generator=g).bfloat16()
    sd["bf16_t"] = torch.randn(2, 3, generator=g).bfloat16().t()
    sd["f64"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    sd["position_ids"] = torch.arange(7).expand((1, -1))
    sd["int32"] = torch.tensor([[-3, 4], [2**31 - 1, -2**31]], dtype=torch.int32)
    sd["mask"] = torch.tensor([True, False, True])
    sd["uint8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["scalar"] = torch.tensor(2.5)
    sd["param"] = torch.nn.Parameter(torch.randn(2, generator=g))
    return sd


def expected(sd):
    arrays = {}
    for k, v in sd.items():
        v = v.detach()
        if v.dtype in (torch.float16, torch.bfloat16):
            v = v.float()
        if v.dtype in (torch.int32, torch.uint8):
            v = v.long()
        a = v.contiguous().numpy()
        arrays[k] = a.reshape(a.shape if a.shape else (1,))
    dtypes = {k: str(v.dtype).replace("torch.", "") for k, v in sd.items()}
    return arrays, dtypes


def optimizer_state(sd):
    params = [torch.nn.Parameter(v.detach().float().clone()) for k, v in sd.items() if v.is_floating_point()]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98))
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    return opt.state_dict(), sched.state_dict()


HPARAMS = {
    "config": {
        "exp_name": "mosei",
        "learning_rate": 1e-5,
        "max_epoch": 10,
        "loss_names": {"mae_audio": 0, "mosei": 1},
        "patch_size": 16,
        "audio_patch_size": [2, 128],
        "video_size": (224, 224),
        "draw_false_video": 0,
        "load_local_path": "",
        "gpus": [0, 1],
        "use_mae": False,
        "drop_rate": 0.1,
        "nothing": None,
        "big": 2 ** 70,
        "neg": -123456789012,
        "tags": {"only"},
        "shape": torch.Size([2, 3]),
        "raw": b"abc",
    },
    "model_type": "transformer",
}


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.decode("latin1")
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 63:
        return str(v)
    return v


def fake_class(module, name, base, **attrs):
    """A class pickled under module.name, as if that package were installed
    (pickle looks the class up by name when saving)."""
    import types
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    cls = type(name, (base,), dict(attrs, __module__=module, __qualname__=name))
    setattr(sys.modules[module], name, cls)
    return cls


# Lightning's hparams container: a dict with attribute access.
AttributeDict = fake_class("pytorch_lightning.utilities.parsing", "AttributeDict", dict)


def _readonly_reduce(self):
    return (type(self), (self.__class__.__bases__[0](self),))


# sacred's read-only config containers reduce to (cls, (plain copy,)).
ReadOnlyDict = fake_class("sacred.config.custom_containers", "ReadOnlyDict", dict, __reduce__=_readonly_reduce)
ReadOnlyList = fake_class("sacred.config.custom_containers", "ReadOnlyList", list, __reduce__=_readonly_reduce)


def lightning(sd, hparams):
    opt, sched = optimizer_state(sd)
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "1.6.5",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val/the_metric', 'mode': 'max'}": {
                "monitor": "val/the_metric",
                "best_model_score": torch.tensor(0.75),
                "best_model_path": "/tmp/epoch=3.ckpt",
                "best_k_models": {"/tmp/epoch=3.ckpt": torch.tensor(0.75)},
            }
        },
        "optimizer_states": [opt],
        "lr_schedulers": [sched],
        "hparams_name": "kwargs",
        "hyper_parameters": hparams,
    }


def write(outdir, name, obj, sd, hparams=None, **save_kw):
    path = os.path.join(outdir, name)
    torch.save(obj, path, **save_kw)
    arrays, dtypes = expected(sd)
    stem = os.path.splitext(name)[0]
    np.savez(os.path.join(outdir, stem + ".npz"), **arrays)
    extra = [k for k in obj if k not in ("state_dict", "model", "hyper_parameters")] if "state_dict" in obj or "model" in obj else []
    meta = {
        "order": list(sd.keys()),
        "dtypes": dtypes,
        "extra": extra,
        "hyper_parameters": jsonable(hparams) if hparams is not None else None,
    }
    with open(os.path.join(outdir, stem + ".json"), "w") as f:
        json.dump(meta, f, indent=1)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    sd = state_dict()
    write(outdir, "zip.bin", sd, sd)
    write(outdir, "legacy.bin", sd, sd, _use_new_zipfile_serialization=False)
    write(outdir, "proto4.bin", sd, sd, pickle_protocol=4)
    write(outdir, "proto4_legacy.bin", sd, sd, pickle_protocol=4, _use_new_zipfile_serialization=False)
    write(outdir, "lightning.ckpt", lightning(sd, HPARAMS), sd, HPARAMS)
    write(outdir, "lightning_legacy.ckpt", lightning(sd, HPARAMS), sd, HPARAMS, _use_new_zipfile_serialization=False)
    ns = argparse.Namespace(lr=0.001, layers=[1, 2], name="tvlt", flag=True)
    write(outdir, "namespace.ckpt", lightning(sd, ns), sd, vars(ns))
    ad = AttributeDict(lr=0.5, config={"hidden_size": 768, "heads": [12]})
    write(outdir, "attributedict.ckpt", lightning(sd, ad), sd, dict(ad))
    sacred = {"config": ReadOnlyDict({"max_epoch": 10, "loss_names": ReadOnlyDict({"mosei": 1}), "gpus": ReadOnlyList([0, 1])})}
    write(outdir, "sacred_legacy.ckpt", lightning(sd, sacred), sd, sacred, _use_new_zipfile_serialization=False)
    write(outdir, "model.pth", {"model": sd, "epoch": 1, "args": ns}, sd)
    # The zip's top folder is named after the file; a buffer gives "archive".
    buf = io.BytesIO()
    torch.save(sd, buf)
    with open(os.path.join(outdir, "buffer.bin"), "wb") as f:
        f.write(buf.getvalue())
    write_expected_only(outdir, "buffer", sd)


def write_expected_only(outdir, stem, sd):
    arrays, dtypes = expected(sd)
    np.savez(os.path.join(outdir, stem + ".npz"), **arrays)
    with open(os.path.join(outdir, stem + ".json"), "w") as f:
        json.dump({"order": list(sd.keys()), "dtypes": dtypes, "extra": [], "hyper_parameters": None}, f, indent=1)


if __name__ == "__main__":
    main()
