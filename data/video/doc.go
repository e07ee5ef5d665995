// Package video turns images, frame folders and video files into the
// pixel_values / pixel_mask tensors TVLT consumes.
//
// Image preprocessing reproduces HuggingFace's TvltImageProcessor bit for bit
// on uint8 input: the shortest-edge resize uses Resize, a Go
// re-implementation of Pillow's antialiased fixed-point convolution resampler
// (Image.resize(size, BILINEAR or BICUBIC), and NEAREST's affine sampling;
// Pillow 9.4, 0 differing bytes in the tests), followed by the reference's
// center crop, float64 rescale, float32 normalisation and channel-first layout.
// Beyond the reference, Video pads short clips with zero frames (mask 0) and
// samples long clips uniformly (SampleIndices, the original TVLT rule).
//
// Sources of frames:
//   - ReadImage / ReadFrameDir: PNG and JPEG via the standard library;
//   - Decode: any container/codec the ffmpeg command-line tool understands
//     (mp4, webm, mkv, avi, ...), run as a subprocess that pipes raw RGB24
//     frames and mono float32 PCM audio. ffmpeg and ffprobe must be on PATH
//     (Debian/Ubuntu: apt-get install ffmpeg); otherwise Decode returns an
//     error wrapping ErrFFmpegMissing.
package video
