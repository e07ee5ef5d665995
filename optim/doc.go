// Package optim holds the training-time numerics that sit between the
// backward pass and the next forward pass: AdamW with PyTorch semantics,
// parameter groups, learning-rate schedules, global-norm gradient clipping
// and gradient accumulation over micro-batches.
//
// Everything works directly on float32 slices (Param.Value and Param.Grad),
// normally the backing arrays of Gorgonia's parameter values and gradient
// tensors, so no tensors are copied and the optimizer state can be exported
// for checkpoints. Gorgonia's own solvers are not used: they keep their
// moments private, implement L2 regularisation instead of decoupled weight
// decay, clip per element and copy every tensor on each step.
//
// A typical training step:
//
//	norm := optim.ClipGradNorm(params, 1.0)
//	if math.IsNaN(norm) || math.IsInf(norm, 0) { /* skip or stop */ }
//	if err := opt.Step(sched.LR(opt.StepCount())); err != nil { ... }
//
// Step indexing: schedules take the number of optimizer steps already
// completed (0 for the first update), the convention of HF's LambdaLR-based
// schedules.
package optim
