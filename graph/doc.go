// Package graph holds the custom Gorgonia ops TVLT needs, the parameter store that binds
// weights into graphs, and a host-side tensor reader.
//
// Gorgonia v0.9.18 either lacks these ops or composes them from many copying
// broadcasts; here each is one node with a hand-written symbolic gradient, so a
// transformer block is a handful of nodes.
//
// # Contents
//
// Transformer ops, one per file:
//   - [GELU] (gelu.go): exact-erf GELU, any shape.
//   - [LayerNorm] (layernorm.go): normalisation over the last axis; also holds the
//     bias-gradient reduction Linear shares.
//   - [Linear] (linear.go): torch-style x·Wᵀ + b, also for Conv2d-shaped weights.
//   - [Attention] (attention.go): fused multi-head attention with an additive key bias.
//   - [AttentionProbs] (attention_probs.go): Attention's probabilities, forward only, for
//     attention maps.
//
// Token bookkeeping of MAE pre-training on (B,S,D) sequences, one op per file:
//   - [AddRows] (addrows.go): adds rows of an embedding table chosen by a constant row map.
//   - [Gather] (gather.go): keeps the tokens named by per-step indices.
//   - [Unshuffle] (unshuffle.go): restores the full sequence, mask token in removed places.
//   - [ConcatTokens] (concat.go): prepends a broadcast token and concatenates sequences.
//   - [SliceSeq] (slice.go): a range of positions; also ConcatTokens' gradient.
//
// Parameters and values:
//   - [Store], [Binder], [Init] (params.go): weights by HF state-dict name, seeded
//     initialisation, checkpoint loading and binding into any number of graphs.
//   - [Float64s] (convert.go): reads any numeric tensor as float64.
//
// Shared machinery:
//   - common.go: what every op shares: opBase, type helpers, input validation, output
//     buffers, GEMM through Gorgonia's BLAS, parallel loops and scratch buffers.
//   - fastmath.go: float32 exp and erf.
//   - openblas.go (build tag openblas): installs OpenBLAS as Gorgonia's BLAS.
//
// # Conventions
//
// Every op works on float32 and float64 graphs (kernels are written once with
// generics), never writes into its inputs (the TapeMachine reuses registers), reuses
// its preallocated output buffer when the machine offers one, does matrix products
// through Gorgonia's registered BLAS (G.WhichBLAS, so G.Use(netlib.Implementation{})
// speeds these ops up as well) and splits large element-wise work over GOMAXPROCS
// goroutines.
//
// Gradients follow Gorgonia's conventions: G.Grad / G.Backpropagate build gradient
// nodes from further custom ops, and a TapeMachine created with G.BindDualValues
// accumulates them into the parameters' dual values, which the caller zeroes after
// each step. Index inputs (Gather ids, Unshuffle idsRestore) and the attention key
// bias are not differentiable.
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
