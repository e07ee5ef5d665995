package config

// PatchesPerFrame is the number of pixel patches in one frame (Np).
func (c Config) PatchesPerFrame() int {
	return (c.ImageSize[0] / c.ImagePatchSize[0]) * (c.ImageSize[1] / c.ImagePatchSize[1])
}

// FreqPatches is the number of audio patches per time step (F).
func (c Config) FreqPatches() int { return c.FrequencyLength / c.AudioPatchSize[1] }

// MaxTimePatches is the number of rows of the audio time-position table.
func (c Config) MaxTimePatches() int { return c.SpectrogramLength / c.AudioPatchSize[0] }

// PixelPatchDim is the length of one flattened pixel patch (C·pH·pW).
func (c Config) PixelPatchDim() int {
	return c.NumImageChannels * c.ImagePatchSize[0] * c.ImagePatchSize[1]
}

// AudioPatchDim is the length of one flattened audio patch (C·pT·pF).
func (c Config) AudioPatchDim() int {
	return c.NumAudioChannels * c.AudioPatchSize[0] * c.AudioPatchSize[1]
}

// PixelMAEDim is the pixel MAE head's output size. The reference uses
// image_patch_size[0]² · C, which is wrong for non-square patches; we use the
// true patch size, which equals the reference's whenever the reference works.
func (c Config) PixelMAEDim() int { return c.PixelPatchDim() }

// PixelTokens is the number of pixel tokens of frames frames (Lp = T·Np).
func (c Config) PixelTokens(frames int) int { return frames * c.PatchesPerFrame() }

// AudioTokens is the number of audio tokens of timePatches time patches (La = Ta·F).
func (c Config) AudioTokens(timePatches int) int { return timePatches * c.FreqPatches() }

// PixelLenKeep is how many of l pixel tokens the MAE encoder keeps.
func (c Config) PixelLenKeep(l int) int { return LenKeep(l, c.PixelMaskRatio) }

// AudioLenKeep is how many of l audio tokens the MAE encoder keeps.
func (c Config) AudioLenKeep(l int) int { return LenKeep(l, c.AudioMaskRatio) }

// AudioMaskGroup is how many consecutive audio tokens share one noise value:
// frame-level masking removes whole time steps (all F frequency patches of
// one time patch), patch-level masking single patches.
func (c Config) AudioMaskGroup() int {
	if c.AudioMaskType == "patch-level" {
		return 1
	}
	return c.FreqPatches()
}
