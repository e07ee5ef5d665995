package layers

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// feed turns a host batch into fresh tensors for every placeholder. Fresh
// tensors each step matter: Gorgonia's TapeMachine may write into the
// tensors bound to inputs.
func (p *Program) feed(b *Batch) (map[string]*tensor.Dense, error) {
	c := p.m.Config
	dt := p.m.Params.Dtype()
	d := p.m.dimsOf(b)
	bs, lp, la := d.b, d.lp, d.la
	f := map[string]*tensor.Dense{}

	audio := patchifyAudio(c, b.AudioValues, dt, false)
	var pm, am []float64
	if b.PixelMask != nil {
		pm = graph.Float64s(b.PixelMask)
	}
	if b.AudioMask != nil {
		am = graph.Float64s(b.AudioMask)
	}
	if _, ok := p.inputs["pixels"]; ok {
		f["pixels"] = patchifyPixels(c, b.PixelValues, dt)
		f["audio"] = audio
		if pm != nil && am != nil {
			f["key_bias"] = keyBias(pm, am, bs, lp, la, dt)
		}
		if _, ok := p.inputs["labels"]; ok {
			y, err := p.labels(b.Labels, bs)
			if err != nil {
				return nil, err
			}
			f["labels"] = y
		}
	}
	if _, ok := p.inputs["matching_pixels"]; ok {
		_, tm, _ := checkPixels(c, "pixel_values_mixed", b.PixelValuesMixed)
		f["matching_pixels"] = patchifyPixels(c, b.PixelValuesMixed, dt)
		f["matching_audio"] = audio
		if b.PixelMaskMixed != nil && am != nil {
			f["matching_key_bias"] = keyBias(graph.Float64s(b.PixelMaskMixed), am, bs, c.PixelTokens(tm), la, dt)
		}
		f["matching_labels"] = newDense(dt, graph.Float64s(b.MatchingLabels), bs, 1)
	}
	if _, ok := p.inputs["mae_pixels"]; ok {
		mp, err := replayMasking("pixel", b.PixelIDsShuffle, b.PixelLenKeep, bs, lp, b.PixelMask)
		if err != nil {
			return nil, err
		}
		ma, err := replayMasking("audio", b.AudioIDsShuffle, b.AudioLenKeep, bs, la, b.AudioMask)
		if err != nil {
			return nil, err
		}
		f["mae_pixels"] = patchifyPixels(c, b.PixelValues, dt)
		f["mae_audio"] = audio
		f["mae_pixel_keep"] = newInts(mp.IDsKeep, bs, mp.LenKeep)
		f["mae_audio_keep"] = newInts(ma.IDsKeep, bs, ma.LenKeep)
		if mp.KeptPad != nil && ma.KeptPad != nil {
			f["mae_key_bias"] = keyBias(mp.KeptPad, ma.KeptPad, bs, mp.LenKeep, ma.LenKeep, dt)
		}
		f["pixel_ids_restore"] = newInts(mp.IDsRestore, bs, lp)
		f["audio_ids_restore"] = newInts(ma.IDsRestore, bs, la)
		f["pixel_label_masks"] = newDense(dt, mp.LabelMask, bs, lp)
		f["audio_label_masks"] = newDense(dt, ma.LabelMask, bs, la)
		f["pixel_patch_targets"] = pixelTargets(c, b.PixelValues, dt)
		f["audio_patch_targets"] = patchifyAudio(c, b.AudioValues, dt, true)
	}
	if _, ok := p.inputs["dropout_seed"]; ok {
		f["dropout_seed"] = newInts([]int64{int64(b.DropoutSeed)}, 1)
	}
	for name := range p.inputs {
		if task, ok := strings.CutPrefix(name, lossScalePrefix); ok {
			v, set := b.LossScales[task]
			if !set {
				v = 1
			}
			f[name] = newDense(dt, []float64{v}, 1)
			continue
		}
		if _, ok := f[name]; !ok {
			return nil, fmt.Errorf("layers: batch does not fit the compiled program: no value for %s", name)
		}
	}
	return f, nil
}

func (p *Program) labels(y *tensor.Dense, bs int) (*tensor.Dense, error) {
	c := p.m.Config
	if y == nil {
		return nil, fmt.Errorf("layers: labels are missing")
	}
	if c.FloatLabels() {
		if s := y.Shape(); s.Dims() != 2 || s[0] != bs || s[1] != c.NumLabels {
			return nil, fmt.Errorf("layers: %s labels have shape %v, want (%d, %d)", c.LossType, s, bs, c.NumLabels)
		}
		return newDense(p.m.Params.Dtype(), graph.Float64s(y), bs, c.NumLabels), nil
	}
	ids, err := ints(y)
	if err != nil {
		return nil, fmt.Errorf("layers: classification labels: %w", err)
	}
	if len(ids) != bs {
		return nil, fmt.Errorf("layers: classification labels have shape %v, want (%d)", y.Shape(), bs)
	}
	for i, v := range ids {
		if v < 0 || int(v) >= c.NumLabels {
			return nil, fmt.Errorf("layers: label %d of example %d is outside [0, num_labels=%d)", v, i, c.NumLabels)
		}
	}
	return newInts(ids, bs), nil
}

// Run executes the program on a batch with the signature it was compiled
// for; with Options.Train the gradients are then available from Grads.
func (p *Program) Run(b *Batch) (res *Result, err error) {
	sig, err := p.m.Signature(b)
	if err != nil {
		return nil, err
	}
	if sig != p.sig {
		return nil, fmt.Errorf("layers: batch signature %q does not match the compiled %q", sig, p.sig)
	}
	feed, err := p.feed(b)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("layers: running %s: %v", p.sig, r)
		}
	}()
	// A run that failed may have left registers half written: start that
	// program over from fresh buffers once.
	if p.failed || !rewind(p.vm) {
		p.vm.Reset()
	}
	p.failed = true
	for name, n := range p.inputs {
		if err := G.Let(n, feed[name]); err != nil {
			return nil, fmt.Errorf("layers: binding %s: %w", name, err)
		}
	}
	if err := p.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("layers: running %s: %w", p.sig, err)
	}
	p.failed = false
	res = &Result{Outputs: map[string]*tensor.Dense{}}
	for name, v := range p.reads {
		res.Outputs[name] = valueDense(*v)
	}
	// The MAE bookkeeping the reference returns comes from the host replay.
	for _, name := range maskOutputs {
		if v, ok := feed[name]; ok {
			res.Outputs[name] = valueDense(v)
		}
	}
	return res, nil
}

// maskOutputs are the reference's outputs of a masked (MAE) encoder pass
// that the host computes: which tokens were removed (real ones only) and
// the permutation that restores token order.
var maskOutputs = []string{"pixel_label_masks", "audio_label_masks", "pixel_ids_restore", "audio_ids_restore"}

// valueDense copies a Gorgonia value into a float64 tensor.
func valueDense(v G.Value) *tensor.Dense {
	switch x := v.(type) {
	case *G.F32:
		return tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{float64(*x)}))
	case *G.F64:
		return tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{float64(*x)}))
	case *tensor.Dense:
		var data []float64
		if f, ok := x.Data().([]float64); ok {
			data = append([]float64(nil), f...)
		} else {
			data = graph.Float64s(x) // a fresh copy already
		}
		return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(data))
	}
	return nil
}

// Grads returns the gradient of the loss for every parameter the graph
// uses, keyed by HF name. The tensors belong to the machine and are
// overwritten by the next Run.
func (p *Program) Grads() (map[string]*tensor.Dense, error) {
	if !p.opts.Train {
		return nil, fmt.Errorf("layers: program was compiled without Train")
	}
	out := make(map[string]*tensor.Dense, len(p.params))
	for i, n := range p.params {
		d, ok := p.grads[i].Value().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("layers: gradient of %s is %T", n.Name(), p.grads[i].Value())
		}
		out[n.Name()] = d
	}
	return out, nil
}

// rewind sends a TapeMachine back to its first instruction keeping its
// registers, so every op writes into the buffers of the previous run
// (UsePreallocDo) instead of allocating a step's activations afresh:
// Gorgonia's Reset drops every register. The program counter is
// unexported in Gorgonia v0.9.18, hence reflection; when the field is not
// there (another Gorgonia) rewind reports false and the caller Resets.
// Reusing registers is safe because a compiled program runs the same
// instructions into the same registers every time and our ops overwrite
// every element of a reused buffer (TestRewindMatchesFreshMachine).
func rewind(vm G.VM) bool {
	v := reflect.ValueOf(vm)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	pc := v.Elem().FieldByName("pc")
	if !pc.IsValid() || pc.Kind() != reflect.Int || !pc.CanAddr() {
		return false
	}
	*(*int)(unsafe.Pointer(pc.UnsafeAddr())) = 0
	return true
}
