package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// InitKind says how a parameter starts before any checkpoint is loaded.
type InitKind int

// Initialisation schemes: HF's _init_weights uses Normal for Linear/Conv2d
// weights, Zeros for biases, Ones/Zeros for LayerNorm, and leaves bare
// parameters (embeddings, CLS, mask tokens) at Zeros; the original TVLT draws
// those from N(0, 0.02) instead (Embedding resolves to either).
const (
	Zeros InitKind = iota
	Ones
	Normal
	Embedding
)

// Init is one parameter's initialiser.
type Init struct {
	Kind InitKind
	Std  float64 // for Normal
}

// InitOptions selects the seed and the treatment of bare embeddings.
type InitOptions struct {
	Seed uint64
	// EmbeddingStd is the std of embeddings, CLS and mask tokens: 0 keeps
	// them at zero like HF; 0.02 follows the original TVLT.
	EmbeddingStd float64
}

// Store owns parameter values by HF state-dict name, independently of any
// graph, so one set of weights can serve several compiled graphs (one per
// input shape) and the optimizer can update them in place.
type Store struct {
	dtype  tensor.Dtype
	names  []string
	vals   map[string]*tensor.Dense
	shapes map[string][]int
	inits  map[string]Init
	dry    bool
}

// NewStore returns an empty store whose tensors have the given dtype.
func NewStore(dt tensor.Dtype) *Store {
	return &Store{dtype: dt, vals: map[string]*tensor.Dense{}, shapes: map[string][]int{}, inits: map[string]Init{}}
}

// NewShapeStore returns a store that records names and shapes without
// allocating values: enough to list or count a model's parameters.
func NewShapeStore() *Store {
	s := NewStore(tensor.Float32)
	s.dry = true
	return s
}

// Dtype is the float type of every parameter.
func (s *Store) Dtype() tensor.Dtype { return s.dtype }

// Add registers a parameter (zero-filled until Initialize or Load).
func (s *Store) Add(name string, shape []int, init Init) error {
	if _, ok := s.shapes[name]; ok {
		return fmt.Errorf("graph: parameter %q registered twice", name)
	}
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("graph: parameter %q has invalid shape %v", name, shape)
		}
	}
	s.names = append(s.names, name)
	s.shapes[name] = append([]int(nil), shape...)
	s.inits[name] = init
	if !s.dry {
		s.vals[name] = tensor.New(tensor.Of(s.dtype), tensor.WithShape(shape...))
	}
	return nil
}

// Names lists parameters in registration order (HF state_dict order).
func (s *Store) Names() []string { return append([]string(nil), s.names...) }

// Has reports whether a parameter exists.
func (s *Store) Has(name string) bool { _, ok := s.shapes[name]; return ok }

// Value returns the live tensor of a parameter (nil if absent).
func (s *Store) Value(name string) *tensor.Dense { return s.vals[name] }

// Shapes maps every parameter name to its shape.
func (s *Store) Shapes() map[string][]int {
	out := make(map[string][]int, len(s.names))
	for _, n := range s.names {
		out[n] = append([]int(nil), s.shapes[n]...)
	}
	return out
}

// NumParams counts scalar parameters.
func (s *Store) NumParams() int {
	total := 0
	for _, n := range s.names {
		size := 1
		for _, d := range s.shapes[n] {
			size *= d
		}
		total += size
	}
	return total
}

// Initialize fills every parameter from a seeded generator, in registration
// order, so the same seed always gives the same model.
func (s *Store) Initialize(opts InitOptions) {
	rng := rand.New(rand.NewPCG(opts.Seed, 0x7f4a7c15))
	for _, n := range s.names {
		in := s.inits[n]
		kind, std := in.Kind, in.Std
		if kind == Embedding {
			kind, std = Normal, opts.EmbeddingStd
			if std == 0 {
				kind = Zeros
			}
		}
		v, ok := s.vals[n]
		if !ok {
			continue
		}
		switch d := v.Data().(type) {
		case []float32:
			fill(d, kind, std, rng)
		case []float64:
			fill(d, kind, std, rng)
		}
	}
}

func fill[T float32 | float64](d []T, kind InitKind, std float64, rng *rand.Rand) {
	for i := range d {
		switch kind {
		case Ones:
			d[i] = 1
		case Normal:
			d[i] = T(rng.NormFloat64() * std)
		default:
			d[i] = 0
		}
	}
}

// Load copies tensors into the store by name. Every name must exist with the
// same shape; names absent from tensors are left untouched.
func (s *Store) Load(tensors map[string]*tensor.Dense) error {
	for name, t := range tensors {
		v, ok := s.vals[name]
		if !ok {
			return fmt.Errorf("graph: unexpected tensor %q", name)
		}
		if !slices.Equal(v.Shape(), t.Shape()) {
			return fmt.Errorf("graph: tensor %q has shape %v, model expects %v", name, t.Shape(), v.Shape())
		}
		if err := copyInto(v, t); err != nil {
			return fmt.Errorf("graph: tensor %q: %w", name, err)
		}
	}
	return nil
}

func copyInto(dst, src *tensor.Dense) error {
	switch d := dst.Data().(type) {
	case []float32:
		return convert(d, src)
	case []float64:
		return convert(d, src)
	}
	return fmt.Errorf("unsupported parameter data %T", dst.Data())
}

func convert[T float32 | float64](dst []T, src *tensor.Dense) error {
	switch s := src.Data().(type) {
	case []float32:
		for i, x := range s {
			dst[i] = T(x)
		}
	case []float64:
		for i, x := range s {
			dst[i] = T(x)
		}
	default:
		return fmt.Errorf("unsupported source data %T", src.Data())
	}
	return nil
}

// Tensors returns float32 copies of every parameter, for export.
func (s *Store) Tensors() map[string]*tensor.Dense {
	out := make(map[string]*tensor.Dense, len(s.names))
	for _, n := range s.names {
		v, ok := s.vals[n]
		if !ok {
			continue
		}
		t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(v.Shape().Clone()...))
		_ = convert(t.Data().([]float32), v)
		out[n] = t
	}
	return out
}

// Binder exposes a store's parameters as nodes of one graph. Nodes share the
// store's tensors, so in-place optimizer updates reach every bound graph.
type Binder struct {
	g     *G.ExprGraph
	s     *Store
	nodes map[string]*G.Node
	order []string
}

// Bind starts binding the store's parameters into graph g.
func (s *Store) Bind(g *G.ExprGraph) *Binder {
	return &Binder{g: g, s: s, nodes: map[string]*G.Node{}}
}

// Store is the parameter store behind the binder.
func (b *Binder) Store() *Store { return b.s }

// Param returns the node of a parameter, creating it on first use.
func (b *Binder) Param(name string) (*G.Node, error) {
	if n, ok := b.nodes[name]; ok {
		return n, nil
	}
	v, ok := b.s.vals[name]
	if !ok {
		return nil, fmt.Errorf("graph: no parameter %q", name)
	}
	n := G.NodeFromAny(b.g, v, G.WithName(name))
	b.nodes[name] = n
	b.order = append(b.order, name)
	return n, nil
}

// Nodes returns the bound parameter nodes in first-use order.
func (b *Binder) Nodes() G.Nodes {
	out := make(G.Nodes, len(b.order))
	for i, n := range b.order {
		out[i] = b.nodes[n]
	}
	return out
}

// Names returns the bound parameter names in first-use order.
func (b *Binder) Names() []string { return append([]string(nil), b.order...) }
