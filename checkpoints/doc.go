// Package checkpoints reads and writes model weights: safetensors (the HF
// layout), numpy .npz archives, and atomic checkpoint folders.
package checkpoints
