// Package config is where every size and every MAE mask of TVLT is decided.
//
//   - config.go: Config, HF's TvltConfig with the same fields and defaults
//     (Default), read from and written to HF config.json (Read, Parse, Bytes).
//   - sizes.go: the sizes derived from it: patches per frame (Np), frequency
//     patches (F), time-position rows, patch lengths, token counts (Lp = T·Np,
//     La = Ta·F), keep counts, and how audio noise is grouped (frame-level or
//     patch-level masking).
//   - masking.go: MAE's random_masking with its names: LenKeep
//     (len_keep = int(L·(1 − ratio)), the one place it is computed), Noise,
//     IDsShuffle (argsort of the noise), and Replay, which turns a batch's
//     ids_shuffle into ids_keep, ids_restore and the loss's label masks.
//
// The data loader draws each clip's ids_shuffle from its own seeded stream
// (so masks never depend on worker counts or resume points); the model
// replays them. Both import this package and nothing else decides a shape.
package config
