// Package hf stores and loads TVLT models in the HuggingFace checkpoint
// layout, so that weights trained here load with
// TvltModel.from_pretrained / TvltForPreTraining.from_pretrained /
// TvltForAudioVisualClassification.from_pretrained, and weights from the hub
// (or any HF export) can be fine-tuned here.
//
// # Checkpoint folder
//
// Save writes a folder holding config.json (every TvltConfig field,
// model_type "tvlt", architectures naming the class that matches the
// weights), model.safetensors (HF state-dict names, F32 or F16, metadata
// {"format": "pt"} as transformers requires) and checksums.json (sha256
// and size of every file). The folder is written with
// checkpoints.WriteFolder: it is complete or absent, never half written.
// ExportNPZ writes one float32 array per HF name for numpy users.
//
// # Loading across model kinds
//
// Load reads a folder (config.json + model.safetensors, or a sharded
// model.safetensors.index.json), or a bare .safetensors / .npz file with a
// config given in LoadOptions. Files recorded in a checksums.json next to
// them are verified first, so a corrupted file is an error rather than a
// silently wrong model.
//
// Our parameter names are the HF names one to one. The encoder of
// TvltForPreTraining and TvltForAudioVisualClassification lives under
// "tvlt."; TvltModel has no prefix. Load detects the checkpoint's prefix
// from its names and moves encoder tensors to the prefix of the requested
// kind; head tensors keep their names. Hence any kind loads into any other:
//
//   - TvltModel → pretraining/classification: encoder loaded, heads
//     initialised fresh from LoadOptions.Init (seeded, reproducible);
//   - pretraining/classification → TvltModel: heads ignored;
//   - pretraining → classification: decoder and matching head ignored,
//     classifier fresh (and the reverse).
//
// The Report lists what was loaded, initialised fresh and ignored. A
// missing encoder tensor, an encoder tensor the model does not have (the
// config and the weights disagree, e.g. on num_hidden_layers) and any
// mis-shaped tensor are errors naming every tensor and both shapes.
// LoadOptions.Overrides changes config fields before the model is built,
// e.g. num_labels and loss_type when fine-tuning a pretrained encoder.
//
// Hub configs (ZinengTang/tvlt-base) use pre-release key names and values
// that differ from the class defaults (8 decoder heads, layer_norm_eps
// 1e-12); layers.ParseConfig keeps the file's values and the unknown keys,
// and Save writes them back.
//
// PyTorch files (a hub folder's pytorch_model.bin, a bare .bin, .pt, .pth
// or .ckpt) are read by checkpoints/torch, whose restricted unpickler runs
// no code. A state dict in the original TVLT repository's names (the
// published TVLT.ckpt, TVLT-MOSEI-SA.ckpt, TVLT-MOSEI-EA.ckpt, or a
// Lightning checkpoint of its training) is renamed by checkpoints/original;
// without a config.json its config is derived from the shapes and the
// Lightning hyper-parameters.
package hf
