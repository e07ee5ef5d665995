// Package data turns user clips into TVLT training batches: a JSON Lines manifest,
// per-clip decoding (video/frames through data/video, audio through data/audio),
// MAE mask indices and matching negatives for pretraining, a deterministic parallel
// loader with an on-disk feature cache, and a pure-Go synthetic demo set.
package data
