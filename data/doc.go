// Package data turns user clips into TVLT model inputs.
//
// Manifest: JSON Lines, one clip per line, read by ReadManifest:
//
//	{"video": "clips/a.mp4", "label": 2, "split": "train"}
//	{"frames": "frames/b", "audio": "audio/b.wav", "label": 0.5, "id": "b"}
//	{"video": "clips/c.mkv", "audio": "c.wav", "label": [1, 0, 1], "split": "val"}
//
// Keys: video (file decoded with ffmpeg; its audio track is used unless "audio" is
// given), frames (folder of PNG/JPEG frames in natural name order), audio (WAV),
// label (int = class, float = score, list = multi-label; a manifest mixing ints and
// floats is all scores), split (train/val/test), id (default: the media path without
// extension, plus "@start-end" for a segment), start and end (seconds: cut a segment
// out of the video and audio files, end defaulting to the file's end; not with
// frames). Any other key is kept in Clip.Meta as raw JSON, except one a single edit
// away from a known key ("lable"), an error suggesting the key; "meta" itself is an
// older free-form key, ignored. Paths are relative to the manifest's folder.
// Blank lines and '#' lines are skipped. Errors read "manifest.jsonl:12: reason".
//
//	{"video": "rec/long.mp4", "start": 0, "end": 12.5, "speaker": "spk03"}
//	{"video": "rec/long.mp4", "start": 12.5, "speaker": "spk07"}
//
// Loader: NewLoader(clips, cfg, opts) decodes clips in parallel workers and yields
// batches through an Iter:
//
//	it, _ := loader.Start(epoch, batch) // or loader.Epoch(epoch) from batch 0
//	defer it.Close()
//	for {
//		b, err := it.Next()
//		if err == io.EOF {
//			break
//		}
//		...
//		epoch, next := it.Position() // store in the checkpoint; resume with Start
//	}
//
// Batch k of epoch e holds the same clips, MAE permutations and matching negatives
// for the same Seed whatever Workers/Prefetch are: shuffling comes from (Seed, e) and
// every per-clip random choice from (Seed, e, clip index). LoaderOptions.CacheDir
// keeps decoded features on disk across epochs and runs; with SkipBad, clips that fail
// to decode are dropped from their batch and listed by Skipped.
//
// Processor (NewProcessor(cfg, DefaultProcessorOptions(cfg))) is the Go TvltProcessor for
// clips already in memory: Process(Input{Frames, Audio, Mixed}) takes uint8 or float32
// frames in HWC or CHW layout and a mono or interleaved waveform at any rate, applies the
// reference's switches (do_resize, size, do_center_crop, crop_size, do_rescale,
// rescale_factor, do_normalize, image_mean/std, num_frames, spectrogram_length,
// sampling_rate, padding_value, mask_pixel/mask_audio) and returns the loader's Batch;
// the loader pads and masks with the same code, so both give bit-identical batches.
// train.ModelBatch turns a Batch into the model's input.
//
// GenerateDemo writes a learnable synthetic set (PNG frames + WAV + manifest) in pure Go.
package data
