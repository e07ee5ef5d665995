package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of the update that follows step
// completed optimizer steps: LR(0) is used for the first update, LR(1) for
// the second, and so on (HF's LambdaLR convention, where the scheduler is
// stepped after the optimizer). Pass AdamW.StepCount() before calling Step.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate, optionally after a linear warmup from 0
// over Warmup steps (HF get_constant_schedule_with_warmup).
type Constant struct {
	Value  float64
	Warmup int
}

// LR implements Schedule.
func (s Constant) LR(step int) float64 {
	if step < s.Warmup {
		return warmup(s.Value, step, s.Warmup)
	}
	return s.Value
}

// Validate reports nonsensical settings.
func (s Constant) Validate() error {
	return checkSchedule("constant", s.Value, 0, s.Warmup, s.Warmup)
}

// WarmupCosine warms up linearly from 0 to Peak over Warmup steps, then
// follows half a cosine from Peak down to Min at step Total, and stays at Min
// afterwards. With Min = 0 it equals HF's get_cosine_schedule_with_warmup
// (num_cycles 0.5) times Peak for every step up to Total; beyond Total HF's
// curve rises again, this one stays at Min.
type WarmupCosine struct {
	Peak          float64
	Warmup, Total int
	Min           float64
}

// LR implements Schedule.
func (s WarmupCosine) LR(step int) float64 {
	if step < s.Warmup {
		return warmup(s.Peak, step, s.Warmup)
	}
	f := 0.5 * (1 + math.Cos(math.Pi*progress(step, s.Warmup, s.Total)))
	return s.Min + (s.Peak-s.Min)*f
}

// Validate reports nonsensical settings.
func (s WarmupCosine) Validate() error {
	return checkSchedule("warmup-cosine", s.Peak, s.Min, s.Warmup, s.Total)
}

// WarmupLinear warms up linearly from 0 to Peak over Warmup steps, then
// decays linearly to Min at step Total and stays there. With Min = 0 it
// equals HF's get_linear_schedule_with_warmup times Peak.
type WarmupLinear struct {
	Peak          float64
	Warmup, Total int
	Min           float64
}

// LR implements Schedule.
func (s WarmupLinear) LR(step int) float64 {
	if step < s.Warmup {
		return warmup(s.Peak, step, s.Warmup)
	}
	// HF's form (total-step)/(total-warmup) rather than 1-progress, so that
	// the values agree bit for bit and Total == Warmup also gives Min at Total.
	f := float64(s.Total-step) / float64(max(1, s.Total-s.Warmup))
	return s.Min + (s.Peak-s.Min)*math.Min(1, math.Max(0, f))
}

// Validate reports nonsensical settings.
func (s WarmupLinear) Validate() error {
	return checkSchedule("warmup-linear", s.Peak, s.Min, s.Warmup, s.Total)
}

// warmup is HF's step/max(1, warmup) ramp, multiplied last as LambdaLR does.
func warmup(peak float64, step, steps int) float64 {
	if step < 0 {
		step = 0
	}
	return peak * (float64(step) / float64(max(1, steps)))
}

// progress is the fraction of the decay phase done, clamped to [0, 1].
func progress(step, warm, total int) float64 {
	p := float64(step-warm) / float64(max(1, total-warm))
	return math.Min(1, math.Max(0, p))
}

func checkSchedule(kind string, peak, min float64, warm, total int) error {
	switch {
	case !(peak >= 0) || math.IsInf(peak, 0):
		return fmt.Errorf("optim: %s schedule: learning rate %v must be finite and >= 0", kind, peak)
	case !(min >= 0) || min > peak:
		return fmt.Errorf("optim: %s schedule: minimum %v not in [0, %v]", kind, min, peak)
	case warm < 0:
		return fmt.Errorf("optim: %s schedule: negative warmup %d", kind, warm)
	case total < warm:
		return fmt.Errorf("optim: %s schedule: total steps %d < warmup %d", kind, total, warm)
	}
	return nil
}
