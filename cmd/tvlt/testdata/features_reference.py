"""HF's reference processors on the clips features_test.go generated.

usage: features_reference.py REFERENCE_DIR WORK_DIR

WORK_DIR/cases.json holds "image" and "audio" (TvltImageProcessor and
TvltFeatureExtractor arguments) and "clips": per clip the PNG frames the
loader keeps and the WAV file. Frames are read with PIL as uint8 RGB arrays;
WAVs (16-bit PCM) are scaled by 1/32768, averaged over channels and
resampled to the extractor's rate as the original TVLT does
(torchaudio.functional.resample with its defaults, on float32). The
processors run on all clips at once; the image processor cannot pad videos
of different lengths, so its frames are zero-padded here to the longest, as
its pixel_mask says. Writes WORK_DIR/reference.npz with pixel_values,
pixel_mask, audio_values and audio_mask, and audio_values_same_wave: the
extractor on the waveforms in each clip's "wave" file instead (float32 at
the extractor's rate, as tvlt resampled them), which isolates the feature
extraction from the resampler's float32 rounding.
"""
import json
import os
import sys
import wave

import numpy as np
import torch
import torchaudio.functional as AF
from PIL import Image

ref, d = sys.argv[1], sys.argv[2]
sys.path.insert(0, ref)
from hftvlt.models.deprecated.tvlt.feature_extraction_tvlt import TvltFeatureExtractor  # noqa: E402
from hftvlt.models.deprecated.tvlt.image_processing_tvlt import TvltImageProcessor  # noqa: E402

with open(os.path.join(d, "cases.json")) as f:
    spec = json.load(f)
ip = TvltImageProcessor(**spec["image"])
fe = TvltFeatureExtractor(**spec["audio"])
rate = spec["audio"]["sampling_rate"]


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2, path
        ch, sr = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / np.float32(32768)
    x = torch.from_numpy(x.reshape(-1, ch).T.copy())
    if sr != rate:
        x = AF.resample(x, orig_freq=sr, new_freq=rate)
    return x.mean(0).numpy()


videos = [[np.array(Image.open(p).convert("RGB")) for p in c["frames"]] for c in spec["clips"]]
img = ip(videos, return_tensors=None)
frames = [np.stack(v) for v in img["pixel_values"]]
T = max(len(v) for v in frames)
pixel_values = np.zeros((len(frames), T) + frames[0].shape[1:], dtype=np.float32)
for i, v in enumerate(frames):
    pixel_values[i, : len(v)] = v
aud = fe([read_wav(c["wav"]) for c in spec["clips"]], sampling_rate=rate, return_tensors="np")
same = fe([np.fromfile(c["wave"], dtype="<f4") for c in spec["clips"]], sampling_rate=rate, return_tensors="np")
np.savez(
    os.path.join(d, "reference.npz"),
    pixel_values=pixel_values,
    pixel_mask=np.asarray(img["pixel_mask"], dtype=np.float32),
    audio_values=np.asarray(aud["audio_values"], dtype=np.float32),
    audio_mask=np.asarray(aud["audio_mask"], dtype=np.float32),
    audio_values_same_wave=np.asarray(same["audio_values"], dtype=np.float32),
)
