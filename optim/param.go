package optim

import "fmt"

// Param is one trainable tensor: its HF state-dict name, shape, and the
// backing data of its value and gradient.
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// numel is the element count implied by a shape (1 for a scalar).
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// check verifies that a parameter's slices agree with its shape, so that a
// wrong binding fails loudly instead of silently updating part of a tensor.
func (p Param) check() error {
	if p.Name == "" {
		return fmt.Errorf("optim: parameter with shape %v has no name", p.Shape)
	}
	for _, d := range p.Shape {
		if d < 0 {
			return fmt.Errorf("optim: %s: negative dimension in shape %v", p.Name, p.Shape)
		}
	}
	n := numel(p.Shape)
	if len(p.Value) != n {
		return fmt.Errorf("optim: %s: value has %d elements, shape %v needs %d", p.Name, len(p.Value), p.Shape, n)
	}
	if len(p.Grad) != n {
		return fmt.Errorf("optim: %s: gradient has %d elements, shape %v needs %d", p.Name, len(p.Grad), p.Shape, n)
	}
	return nil
}

// checkParams validates a parameter list and rejects duplicate names, which
// would make state export ambiguous.
func checkParams(params []Param) error {
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if err := p.check(); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("optim: duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}
