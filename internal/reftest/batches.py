# What HF's reference pipeline makes of tvlt-go's batches: TvltImageProcessor
# and TvltFeatureExtractor on each batch's clips (one call per batch, so the
# audio is padded to the batch's longest clip), then random_masking with the
# batch's own permutations (noise whose argsort is tvlt-go's ids_shuffle).
# argv: reference tree, work dir holding batches.json; writes out_<i>.json
# and out_<i>_{pixel_values,audio_values}.f32.
import json, sys
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, sys.argv[1])
from hftvlt.models.deprecated.tvlt.image_processing_tvlt import TvltImageProcessor
from hftvlt.models.deprecated.tvlt.feature_extraction_tvlt import TvltFeatureExtractor
from hftvlt.models.deprecated.tvlt.modeling_tvlt import random_masking

work = sys.argv[2]
spec = json.load(open(work + "/batches.json"))
c = spec["config"]
img = TvltImageProcessor(
    patch_size=c["image_patch_size"], num_frames=c["num_frames"],
    size={"shortest_edge": min(c["image_size"])},
    crop_size={"height": c["image_size"][0], "width": c["image_size"][1]})
fe = TvltFeatureExtractor(
    spectrogram_length=c["spectrogram_length"], patch_size=c["audio_patch_size"],
    feature_size=c["frequency_length"], sampling_rate=spec["sampling_rate"])


def removed(ids_shuffle, mask, ratio):
    """Removed tokens and removed real tokens of HF's random_masking."""
    ids = torch.tensor(ids_shuffle, dtype=torch.int64)
    b, l = ids.shape
    # noise whose ascending argsort is ids: token ids[r, j] gets rank j.
    noise = torch.empty(b, l)
    noise.scatter_(1, ids, torch.arange(l, dtype=torch.float32).expand(b, l).contiguous())
    seq = torch.zeros(b, l, 1)
    hf_len_keep = int(l * (1 - ratio))  # generate_*_mask_noise's len_keep
    _, _, labels, _ = random_masking(seq, noise, hf_len_keep, attention_masks=torch.tensor(mask))
    return b * (l - hf_len_keep), float(labels.sum()), hf_len_keep


for i, batch in enumerate(spec["batches"]):
    videos = [[np.array(Image.open(f).convert("RGB")) for f in clip["frames"]] for clip in batch["clips"]]
    waves = [np.fromfile(clip["wave"], dtype=np.float32) for clip in batch["clips"]]
    pv = img(videos)
    av = fe(waves, sampling_rate=spec["sampling_rate"], return_tensors="np")
    pm, am = np.asarray(pv["pixel_mask"], dtype=np.float32), av["audio_mask"].astype(np.float32)
    # The image processor leaves videos of different lengths ragged (its
    # pixel_mask covers the most frames); zero frames complete them.
    frames = [np.asarray(v, dtype=np.float32) for v in pv["pixel_values"]]
    most = max(len(v) for v in frames)
    pixel_values = np.zeros((len(frames), most) + frames[0].shape[1:], dtype=np.float32)
    for j, v in enumerate(frames):
        pixel_values[j, : len(v)] = v
    out = {"pixel_values_shape": list(pixel_values.shape), "audio_values_shape": list(av["audio_values"].shape),
           "pixel_mask": pm.tolist(), "audio_mask": am.tolist()}
    for kind, mask, ratio in (("pixel", pm, c["pixel_mask_ratio"]), ("audio", am, c["audio_mask_ratio"])):
        ids = batch.get(kind + "_ids_shuffle")
        if ids is None:
            continue
        if np.asarray(ids).shape != mask.shape:
            out[kind + "_ids_shape_differs"] = True
            continue
        n, real, keep = removed(ids, mask, ratio)
        out[kind + "_removed"], out[kind + "_real_removed"], out[kind + "_len_keep"] = n, real, keep
    pixel_values.tofile("%s/out_%d_pixel_values.f32" % (work, i))
    np.asarray(av["audio_values"], dtype=np.float32).tofile("%s/out_%d_audio_values.f32" % (work, i))
    json.dump(out, open("%s/out_%d.json" % (work, i), "w"))
