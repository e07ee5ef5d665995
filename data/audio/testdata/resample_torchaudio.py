"""Resamples the waveforms resample_torchaudio_test.go writes with torchaudio.

usage: resample_torchaudio.py DIR

DIR/cases.json lists {"from": Hz, "to": Hz}; DIR/in_<i>.f32 holds case i's
float32 little-endian mono waveform. Each is resampled as the original TVLT
does it, torchaudio.functional.resample(waveform, orig_freq, new_freq) with
the defaults, on a float32 (1, n) tensor, and written to DIR/out_<i>.f32.
"""
import json
import os
import sys

import numpy as np
import torch
import torchaudio.functional as F

d = sys.argv[1]
with open(os.path.join(d, "cases.json")) as f:
    cases = json.load(f)
for i, c in enumerate(cases):
    x = np.fromfile(os.path.join(d, "in_%d.f32" % i), dtype="<f4")
    y = F.resample(torch.from_numpy(x)[None], orig_freq=c["from"], new_freq=c["to"])
    y[0].numpy().astype("<f4").tofile(os.path.join(d, "out_%d.f32" % i))
