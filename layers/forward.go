package layers

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/losses"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The forward passes of the three HF classes, wired once per batch
// signature. B is the batch, T frames, Lp = T·Np pixel tokens, La = Ta·F
// audio tokens, D hidden size, and K the MAE keep counts.

// build wires the graph a batch needs: TvltModel is one encoder pass,
// TvltForAudioVisualClassification adds its head and loss, and
// TvltForPreTraining sums the losses of its matching and MAE passes
// (weighted by Options.LossWeights).
func (p *Program) build(b *Batch) error {
	switch p.m.Kind {
	case Base:
		if b.PixelIDsShuffle != nil {
			return p.maskedEncoderPass(b)
		}
		_, err := p.encoderPass(b)
		return err
	case Classification:
		loss, err := p.finetunePass(b)
		if err != nil || loss == nil {
			return err
		}
		if loss, err = p.scaled("loss", loss); err != nil {
			return err
		}
		return p.setLoss(loss)
	}
	// TvltForPreTraining: the matching and MAE passes share one packed run
	// through the encoder.
	c := p.m.Config
	var passes []pass
	if c.TaskMatching && b.PixelValuesMixed != nil {
		ps, err := p.matchingPass(b)
		if err != nil {
			return err
		}
		passes = append(passes, ps)
	}
	if c.TaskMAE && b.PixelIDsShuffle != nil {
		ps, err := p.maePass(b)
		if err != nil {
			return err
		}
		passes = append(passes, ps)
	}
	if len(passes) == 0 && p.opts.Inspect && !p.opts.Train {
		// A plain batch on a pretraining model: look at its encoder only.
		_, err := p.encoderPass(b)
		return err
	}
	if len(passes) == 0 {
		return fmt.Errorf("layers: pretraining batch has neither matching inputs (pixel_values_mixed) nor MAE ids (ids_shuffle) for the enabled tasks")
	}
	ins := make([]encoderInputs, len(passes))
	for i, ps := range passes {
		ins[i] = ps.in
	}
	outs := p.bd.encode(p.m.Kind.EncoderPrefix(), p.opts.OutputHiddenStates || p.opts.OutputAttentions, ins...)
	if p.bd.err != nil {
		return p.bd.err
	}
	terms := make([]*G.Node, len(passes))
	for i, ps := range passes {
		loss, err := ps.loss(outs[i])
		if err != nil {
			return err
		}
		terms[i] = loss
		// As the reference, hidden_states and attentions are the last pass's
		// (MAE's when it runs); an earlier matching pass's carry its prefix.
		tag := ""
		if i < len(passes)-1 {
			tag = "matching_"
		}
		if err := p.readEncoder(tag, ps.in, outs[i], false); err != nil {
			return err
		}
	}
	return p.setLoss(terms...)
}

// pass is one pretraining task: its encoder inputs, and its head and loss
// on the encoder's output.
type pass struct {
	in   encoderInputs
	loss func(encoderOutputs) (*G.Node, error)
}

// setLoss sums the task losses into the program's loss ("loss").
func (p *Program) setLoss(terms ...*G.Node) error {
	loss, err := losses.Sum(terms...)
	if err != nil {
		return err
	}
	p.loss = loss
	p.read("loss", loss)
	return nil
}

// encoderInputs declares one encoder pass's placeholders, named with tag:
// patches (B, frames·Np, C·pH·pW) and (B, La, Ca·pT·pF), MAE keep ids
// (B, K) when keepP > 0, and the key bias (B, 1+K) when masked.
func (p *Program) encoderInputs(tag string, frames, keepP, keepA int, masked bool) encoderInputs {
	c, dt, d := p.m.Config, p.m.Params.Dtype(), p.dims
	in := encoderInputs{
		pixels: p.placeholder(tag+"pixels", dt, d.b, c.PixelTokens(frames), c.PixelPatchDim()),
		audio:  p.placeholder(tag+"audio", dt, d.b, d.la, c.AudioPatchDim()),
	}
	kp, ka := c.PixelTokens(frames), d.la
	if keepP > 0 {
		in.pixelKeep = p.placeholder(tag+"pixel_keep", tensor.Int64, d.b, keepP)
		in.audioKeep = p.placeholder(tag+"audio_keep", tensor.Int64, d.b, keepA)
		kp, ka = keepP, keepA
	}
	if masked {
		in.keyBias = p.placeholder(tag+"key_bias", dt, d.b, 1+kp+ka)
	}
	return in
}

// encoderPass is TvltModel.forward without MAE masking on the batch itself:
// last_hidden_state (B, 1+Lp+La, D) and its pixel/audio slices, read for the
// base model (or when inspecting) with every layer's hidden state.
func (p *Program) encoderPass(b *Batch) (encoderOutputs, error) {
	d := p.dims
	if err := checkMask("pixel_mask", b.PixelMask, d.b, d.lp); err != nil {
		return encoderOutputs{}, err
	}
	if err := checkMask("audio_mask", b.AudioMask, d.b, d.la); err != nil {
		return encoderOutputs{}, err
	}
	in := p.encoderInputs("", d.frames, 0, 0, b.PixelMask != nil && b.AudioMask != nil)
	outs := p.bd.encode(p.m.Kind.EncoderPrefix(), true, in)
	if p.bd.err != nil {
		return encoderOutputs{}, p.bd.err
	}
	return outs[0], p.readEncoder("", in, outs[0], p.m.Kind == Base || p.opts.Inspect)
}

// maskedEncoderPass is TvltModel.forward with mask_pixel and mask_audio: the
// encoder sees the tokens the batch's ids_shuffle keeps, giving
// last_hidden_state (B, 1+Kp+Ka, D); the label masks and ids_restore
// (Result outputs) say which tokens were removed.
func (p *Program) maskedEncoderPass(b *Batch) error {
	d := p.dims
	if err := checkMask("pixel_mask", b.PixelMask, d.b, d.lp); err != nil {
		return err
	}
	if err := checkMask("audio_mask", b.AudioMask, d.b, d.la); err != nil {
		return err
	}
	if b.AudioIDsShuffle == nil {
		return fmt.Errorf("layers: mask_pixel without mask_audio: TvltModel masks both (audio ids_shuffle missing)")
	}
	in := p.encoderInputs("mae_", d.frames, b.PixelLenKeep, b.AudioLenKeep, b.PixelMask != nil && b.AudioMask != nil)
	outs := p.bd.encode(p.m.Kind.EncoderPrefix(), true, in)
	if p.bd.err != nil {
		return p.bd.err
	}
	return p.readEncoder("", in, outs[0], true)
}

// finetunePass is TvltForAudioVisualClassification.forward: the encoder
// pass, the classifier on CLS → logits (B, num_labels), and with labels
// cross-entropy (Int64 (B)) or, on float (B, num_labels) targets, MSE
// (regression), BCE-with-logits (multilabel) or the VQA loss (vqa); nil
// loss without labels.
func (p *Program) finetunePass(b *Batch) (*G.Node, error) {
	out, err := p.encoderPass(b)
	if err != nil {
		return nil, err
	}
	logits := p.bd.classifier(out.last)
	if p.bd.err != nil {
		return nil, p.bd.err
	}
	p.read("logits", logits)
	if b.Labels == nil {
		return nil, nil
	}
	c := p.m.Config
	if c.FloatLabels() {
		if s := b.Labels.Shape(); s.Dims() != 2 || s[0] != p.dims.b || s[1] != c.NumLabels {
			return nil, fmt.Errorf("layers: %s labels have shape %v, want (%d, %d)", c.LossType, s, p.dims.b, c.NumLabels)
		}
		y := p.placeholder("labels", p.m.Params.Dtype(), p.dims.b, c.NumLabels)
		switch c.LossType {
		case config.LossMultilabel:
			return losses.BCEWithLogits(logits, y)
		case config.LossVQA:
			return losses.VQA(logits, y)
		}
		return losses.MSE(logits, y)
	}
	return losses.CrossEntropy(logits, p.placeholder("labels", tensor.Int64, p.dims.b))
}

// matchingPass is TvltForPreTraining's matching branch: the encoder on
// (pixel_values_mixed, audio_values), then matching_logits (B, 1) and
// matching_loss, BCE against matching_labels (B, 1).
func (p *Program) matchingPass(b *Batch) (pass, error) {
	c, d := p.m.Config, p.dims
	_, tm, _ := checkPixels(c, "pixel_values_mixed", b.PixelValuesMixed)
	if err := checkMask("pixel_mask_mixed", b.PixelMaskMixed, d.b, c.PixelTokens(tm)); err != nil {
		return pass{}, err
	}
	if b.MatchingLabels == nil {
		return pass{}, fmt.Errorf("layers: matching needs matching_labels (B, 1)")
	}
	if s := b.MatchingLabels.Shape(); s.Dims() != 2 || s[0] != d.b || s[1] != 1 {
		return pass{}, fmt.Errorf("layers: matching_labels has shape %v, want (%d, 1)", s, d.b)
	}
	in := p.encoderInputs("matching_", tm, 0, 0, b.PixelMaskMixed != nil && b.AudioMask != nil)
	return pass{in: in, loss: func(out encoderOutputs) (*G.Node, error) {
		logits := p.bd.matchingHead(out.last)
		labels := p.placeholder("matching_labels", p.m.Params.Dtype(), d.b, 1)
		if p.bd.err != nil {
			return nil, p.bd.err
		}
		loss, err := losses.BCEWithLogits(logits, labels)
		if err != nil {
			return nil, err
		}
		p.inspect("matching_last_hidden_state", out.last)
		p.read("matching_logits", logits)
		p.read("matching_loss", loss)
		if loss, err = p.scaled("matching_loss", loss); err != nil {
			return nil, err
		}
		return losses.WeightedSum([]float64{p.lossWeights().Matching}, loss)
	}}, nil
}

// maePass is TvltForPreTraining's MAE branch: the encoder on the kept
// tokens (B, 1+Kp+Ka, D), then the decoder with mask tokens at the removed
// places → pixel_logits (B, Lp, pH·pW·C) and audio_logits (B, La, pT·pF·Ca),
// and the sum of the two MAE losses over removed real patches.
func (p *Program) maePass(b *Batch) (pass, error) {
	c, dt, d := p.m.Config, p.m.Params.Dtype(), p.dims
	if err := checkMask("pixel_mask", b.PixelMask, d.b, d.lp); err != nil {
		return pass{}, err
	}
	if err := checkMask("audio_mask", b.AudioMask, d.b, d.la); err != nil {
		return pass{}, err
	}
	in := p.encoderInputs("mae_", d.frames, b.PixelLenKeep, b.AudioLenKeep, b.PixelMask != nil && b.AudioMask != nil)
	return pass{in: in, loss: func(out encoderOutputs) (*G.Node, error) {
		pix, aud := p.bd.decode(out.pixel, p.placeholder("pixel_ids_restore", tensor.Int64, d.b, d.lp),
			out.audio, p.placeholder("audio_ids_restore", tensor.Int64, d.b, d.la))
		if p.bd.err != nil {
			return nil, p.bd.err
		}
		pixTarget := p.placeholder("pixel_patch_targets", dt, d.b, d.lp, c.PixelMAEDim())
		audTarget := p.placeholder("audio_patch_targets", dt, d.b, d.la, c.AudioPatchDim())
		pixLoss, err := losses.MAE(pix.logits, pixTarget, p.placeholder("pixel_label_masks", dt, d.b, d.lp))
		if err != nil {
			return nil, err
		}
		audLoss, err := losses.MAE(aud.logits, audTarget, p.placeholder("audio_label_masks", dt, d.b, d.la))
		if err != nil {
			return nil, err
		}
		p.inspect("pixel_patch_targets", pixTarget)
		p.inspect("audio_patch_targets", audTarget)
		p.inspect("mae_last_hidden_state", out.last)
		p.inspect("pixel_decoder_input", pix.input)
		p.inspect("pixel_decoder_output", pix.output)
		p.inspect("audio_decoder_input", aud.input)
		p.inspect("audio_decoder_output", aud.output)
		p.read("pixel_logits", pix.logits)
		p.read("audio_logits", aud.logits)
		p.read("pixel_mae_loss", pixLoss)
		p.read("audio_mae_loss", audLoss)
		if pixLoss, err = p.scaled("pixel_mae_loss", pixLoss); err != nil {
			return nil, err
		}
		if audLoss, err = p.scaled("audio_mae_loss", audLoss); err != nil {
			return nil, err
		}
		w := p.lossWeights()
		return losses.WeightedSum([]float64{w.PixelMAE, w.AudioMAE}, pixLoss, audLoss)
	}}, nil
}
