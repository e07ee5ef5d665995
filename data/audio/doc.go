// Package audio turns audio files into TVLT's audio inputs: WAV decoding and
// encoding, downmixing, band-limited resampling, and a log-mel feature
// extractor that reproduces HuggingFace's TvltFeatureExtractor (audio_values
// and the patch-level audio_mask) to within 1e-4.
package audio
