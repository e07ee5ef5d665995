// Package graph holds the custom Gorgonia ops TVLT needs: exact-erf GELU, LayerNorm,
// torch-style Linear, fused multi-head attention and the token bookkeeping ops of MAE
// pre-training (AddRows, Gather, Unshuffle, ConcatTokens, SliceSeq).
//
// Gorgonia v0.9.18 either lacks these ops or composes them from many copying
// broadcasts; here each is one node with a hand-written symbolic gradient, so a
// transformer block is a handful of nodes. Every op works on float32 and float64
// graphs (kernels are written once with generics), never writes into its inputs
// (the TapeMachine reuses registers), reuses its preallocated output buffer when the
// machine offers one, does matrix products through Gorgonia's registered BLAS
// (G.WhichBLAS, so G.Use(netlib.Implementation{}) speeds these ops up as well) and
// splits large element-wise work over GOMAXPROCS goroutines.
//
// Gradients follow Gorgonia's conventions: G.Grad / G.Backpropagate build gradient
// nodes from further custom ops, and a TapeMachine created with G.BindDualValues
// accumulates them into the parameters' dual values (zero them after each step).
// Index inputs (Gather ids, Unshuffle idsRestore) and the attention key bias are not
// differentiable.
//
// Attention keeps its softmax probabilities (B·heads·S² values) from the forward pass for the
// backward pass once a gradient of it has been taken, as PyTorch does; the backward kernel
// falls back to recomputing them if the stash belongs to a different output buffer (another
// machine over the same graph). Ops whose only difference is a baked-in constant (row maps,
// slice ranges, head counts) hash differently, so Gorgonia's node de-duplication never
// merges them.
//
// Float32 kernels use fast exp/erf approximations (errors of a few float32 ulp, measured in
// the tests); float64 kernels use the math package and are exact to rounding.
package graph
