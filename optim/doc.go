// Package optim holds the training-time numerics that sit between the
// backward pass and the next forward pass: AdamW with PyTorch semantics,
// parameter groups, learning-rate schedules, global-norm gradient clipping
// and gradient accumulation over micro-batches.
//
// Everything works directly on float32 slices (Param.Value and Param.Grad),
// normally the backing arrays of Gorgonia's parameter values and gradient
// tensors, so nothing is copied and the optimizer state can be exported for
// checkpoints. Gorgonia's own solvers are not used: they keep their moments
// private, implement L2 regularisation instead of decoupled weight decay,
// clip per element and copy every tensor on each step.
//
// # AdamW
//
// AdamW reproduces torch 1.13's torch.optim.AdamW (single-tensor CPU path,
// amsgrad off) in float32 with torch's operation order; on the golden step
// every one of the 35,233 parameters is bit-identical. Step runs on up to
// GOMAXPROCS goroutines over 32K-element chunks and allocates nothing.
// Parameters to freeze are best left out of the list; a group with
// LRScale 0 also leaves them unchanged but still pays for their moments.
//
// # Parameter groups
//
// A GroupFunc maps each parameter to a group name and AdamWConfig.Groups
// gives each group its weight decay and learning-rate scale. DefaultGroups
// exempts rank-0/1 tensors (biases, LayerNorm) and embedding/token
// parameters from decay.
//
// # Checkpoints and exact resume
//
// State exports the step count and the moments keyed "exp_avg/<name>" and
// "exp_avg_sq/<name>"; LoadState restores them after validating every key
// and shape. Training k steps, exporting, loading into a new optimizer and
// training k more is bit-identical to 2k uninterrupted steps (all reductions
// here use a fixed order, independent of goroutine scheduling). Checkpoint
// at optimizer-step boundaries: an Accumulator's partial sums are not part
// of the state.
//
// # Schedules
//
// Schedules take the number of optimizer steps already completed (0 for the
// first update), the convention of HF's LambdaLR-based schedules; with a
// warmup, the very first update therefore uses learning rate 0, as in HF.
//
// A typical step:
//
//	if err := acc.Write(params); err != nil { ... } // after the micro-batches
//	norm := optim.ClipGradNorm(params, 1.0)
//	if math.IsNaN(norm) || math.IsInf(norm, 0) { /* stop: non-finite gradients */ }
//	if err := opt.Step(sched.LR(opt.StepCount())); err != nil { ... }
package optim
