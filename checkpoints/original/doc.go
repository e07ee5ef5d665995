// Package original converts checkpoints of the original TVLT repository
// (github.com/zinengtang/TVLT: model/modules/tvlt.py, heads.py,
// model_module.py) to HuggingFace's TVLT state dict and config, and back.
//
// Two file layouts exist. The published files (TVLT.ckpt, TVLT-MOSEI-SA.ckpt,
// TVLT-MOSEI-EA.ckpt on the hub's TVLT/models) hold the TVLT module's bare
// state dict: demos.py loads them with model.load_state_dict(torch.load(f)).
// Checkpoints of the original's own training runs are Lightning files: the
// module under "transformer.", torchmetrics states (train_*, val_*; dropped)
// and hyper_parameters {"config": model/config.py's dict, "model_type":
// "transformer"} from save_hyperparameters(). Both are read by
// checkpoints/torch; ToHF takes the state dict and the hyper-parameters
// (nil for the published files).
//
// # Names (E = "tvlt." inside TvltForPreTraining and
// TvltForAudioVisualClassification, "" for TvltModel)
//
//	cls_token                          E cls_embedding
//	patch_embed_v.proj.{weight,bias}   E pixel_embeddings.patch_embeddings.projection.*
//	pos_embed_v                        E pixel_embeddings.pos_embed_v
//	temporal_embed (1, 64, D)          E pixel_embeddings.temporal_embed, first num_frames rows
//	type_embed_v                       E pixel_embeddings.type_embed_v
//	patch_embed_a.proj.{weight,bias}   E audio_embeddings.patch_embeddings.projection.*
//	pos_embed_a (1, 1020, D)           E audio_embeddings.pos_embed_a, first spectrogram_length/pT rows
//	freq_embed                         E audio_embeddings.freq_embed
//	type_embed_a                       E audio_embeddings.type_embed_a
//	blocks.i.norm1                     E encoder.layer.i.layernorm_before
//	blocks.i.attn.qkv (3D, D), (3D)    E encoder.layer.i.attention.attention.{query,key,value}: rows [0,D), [D,2D), [2D,3D)
//	blocks.i.attn.proj                 E encoder.layer.i.attention.output.dense
//	blocks.i.norm2                     E encoder.layer.i.layernorm_after
//	blocks.i.mlp.fc1 / mlp.fc2         E encoder.layer.i.intermediate.dense / output.dense
//	norm                               E layernorm
//	decoder_embed                      encoder_to_decoder
//	decoder_blocks.i.*                 decoder.decoder_layers.i.* (as blocks.i)
//	decoder_norm                       decoder.layernorm
//	decoder_pos_embed_v                decoder_pixel_pos_embed
//	decoder_temporal_embed (1, 64, d)  decoder_temporal_embed, first num_frames rows
//	decoder_type_embed_v               decoder_pixel_type_embed
//	decoder_pos_embed_a (1, 1020, d)   decoder_audio_pos_embed, first spectrogram_length/pT rows
//	decoder_freq_embed                 decoder_freq_embed
//	decoder_type_embed_a               decoder_audio_type_embed
//	mask_token_v / mask_token_a        pixel_mask_token / audio_mask_token
//	mae_score_video.decoder            pixel_mae_head.decoder
//	mae_score_audio.decoder            audio_mae_head.decoder
//	matching_score.pooler.dense        matching_head.pooler.dense
//	matching_score.fc                  matching_head.fc
//	classifier.0.dense (Pooler)        classifier.pooler.dense (config classifier_pooler)
//	classifier.1 / .2 / .4             classifier.0 / .1 / .3 (Linear, LayerNorm, Linear; .3 is GELU)
//	vqa_classifier.*                   classifier.* (as classifier)
//
// The qkv bias is one fused (3D) vector: the original's Attention is an
// nn.Linear(D, 3D, bias=True), not timm-MAE's separate q_bias/v_bias.
// Unused table rows (frames beyond num_frames, time patches beyond the
// spectrogram the model reads) are dropped; FromHF pads them back with
// zeros. text_embeddings, mlm_score (text models) and rank_output (the
// MSR-VTT retrieval head) have no HF counterpart and are errors.
//
// # Config
//
// Sizes come from the shapes (hidden and intermediate sizes, layers,
// patch sizes, channels, image size from pos_embed_v's grid, frequency
// length from freq_embed). Head counts are not in the shapes: the
// registered model functions (mae_vit_base_patch16_dec512d8b,
// mae_vit_base_patch128_dec512d8b) hard-code 12 and 16, other model_type
// values read num_heads and the tvlt-go key decoder_num_heads, and without
// hyper-parameters the base widths (768, 512) give 12 and 16.
// spectrogram_length is audio_size (default 1024, the frames every original
// task reads), num_frames is num_frames (default 8, the MOSEI tasks'),
// layer_norm_eps 1e-6 (the registered models' norm_layer), frame_masking
// picks frame-level audio masking at 0.15 or patch-level at 0.75.
//
// The heads decide the HF class: MAE decoder or matching head →
// TvltForPreTraining (task_mae, task_matching as present); a classifier →
// TvltForAudioVisualClassification; none → TvltModel. The original's
// classifier reads a tanh pooler over the CLS state that HF's lacks and
// uses nn.LayerNorm's default eps 1e-5, so the config gets the tvlt-go
// extensions classifier_pooler and classifier_layer_norm_eps (HF's own
// code ignores both keys and would compute without the pooler). The
// sentiment head (loss_names mosei, 1 output) becomes loss_type
// regression with label "sentiment", the emotion head (moseiemo, 6
// outputs, BCE) multilabel with labels Emotions, vqa_classifier vqa.
package original
