// Package viz draws what a TVLT run learned as PNG pictures, without Python:
//
//   - Panels / Curves: the records of a run's metrics.jsonl (as read by
//     train.ReadMetrics, which skips the partial last line of a run that is
//     still writing) grouped into panels (training losses, learning rate,
//     gradient norm, evaluation losses and scores against the step) and
//     drawn with gonum.org/v1/plot; WritePNG saves a picture atomically.
//   - Reconstructor: runs a pretraining model's MAE decoder on a loader batch
//     (the masks the loader drew for its seed) and returns one Clip per
//     example; Clip.Render lays out, per frame, the original, the masked
//     input (removed patches grey) and the reconstruction (kept patches
//     pasted back from the input, as in MAE's figures), and below them the
//     spectrogram original / masked / reconstructed as heat maps with time
//     on the x axis. Pixels are de-normalised with the image processor's
//     mean and std; small frames are enlarged with nearest neighbour.
//
// The images are written with image/png; text uses the fixed 7x13 bitmap
// face of golang.org/x/image, so no font files are needed.
package viz
