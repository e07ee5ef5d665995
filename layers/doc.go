// Package layers builds TVLT's three HF classes — TvltModel,
// TvltForPreTraining and TvltForAudioVisualClassification — as Gorgonia
// graphs over parameters named like HF's state dict, one file per idea:
//
//   - model.go: Model, Kind, New, ParamShapes, EncoderPrefix and IsHead (the
//     state-dict layout every checkpoint reader and writer follows);
//   - embeddings.go, block.go, encoder.go, decoder.go, heads.go: the
//     paper's modules (patch/position/modality embeddings, pre-LN ViT block,
//     encoder, MAE decoder, matching head and classifier);
//   - forward.go: the forward passes — encoderPass, finetunePass,
//     matchingPass, maePass — wired like the reference's forward methods;
//   - patches.go: patchify and unpatchify, and the replay of a batch's MAE
//     permutations (config.Replay) into the graph's inputs;
//   - program.go, run.go: Compile a Model for one batch signature into a
//     Program, Run it (buffers reused run to run), read outputs and Grads;
//   - inputs.go: Batch, the host-side inputs in the reference's layout.
package layers
