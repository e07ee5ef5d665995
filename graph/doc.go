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
package graph
