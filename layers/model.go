package layers

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"gorgonia.org/tensor"
)

// Kind selects which reference class a Model reproduces.
type Kind int

// The three HF TVLT model classes.
const (
	Base           Kind = iota // TvltModel: the encoder alone, names without prefix
	Pretraining                // TvltForPreTraining: encoder (tvlt.) + matching head + MAE decoder
	Classification             // TvltForAudioVisualClassification: encoder (tvlt.) + classifier
)

// String names the HF class of the kind.
func (k Kind) String() string {
	switch k {
	case Base:
		return "TvltModel"
	case Pretraining:
		return "TvltForPreTraining"
	case Classification:
		return "TvltForAudioVisualClassification"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KindFromArchitecture maps an HF architectures entry to a Kind.
func KindFromArchitecture(arch string) (Kind, error) {
	for _, k := range []Kind{Base, Pretraining, Classification} {
		if k.String() == arch {
			return k, nil
		}
	}
	return 0, fmt.Errorf("layers: unknown architecture %q (want TvltModel, TvltForPreTraining or TvltForAudioVisualClassification)", arch)
}

// Model is one TVLT model: its config and its parameters under HF
// state-dict names. Graphs are compiled from it per input shape (Compile).
type Model struct {
	Config config.Config
	Kind   Kind
	Params *graph.Store
}

// New builds a model of the given kind with freshly initialised parameters
// (HF's scheme, seeded; see graph.InitOptions).
func New(kind Kind, cfg config.Config, dtype tensor.Dtype, init graph.InitOptions) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, fmt.Errorf("layers: dtype %v not supported (want Float32 or Float64)", dtype)
	}
	if kind == Pretraining && !cfg.TaskMatching && !cfg.TaskMAE {
		return nil, fmt.Errorf("layers: TvltForPreTraining needs task_matching or task_mae")
	}
	m := &Model{Config: cfg, Kind: kind, Params: graph.NewStore(dtype)}
	if err := register(m.Params, kind, cfg); err != nil {
		return nil, err
	}
	m.Params.Initialize(init)
	return m, nil
}

// register adds every parameter of the kind in HF state_dict order.
func register(s *graph.Store, kind Kind, cfg config.Config) error {
	r := &registry{s: s, std: cfg.InitializerRange}
	switch kind {
	case Base:
		registerTvltModel(r, "", cfg)
	case Pretraining:
		if cfg.TaskMAE {
			registerDecoder(r, cfg)
		}
		registerTvltModel(r, EncoderPrefix, cfg)
		if cfg.TaskMatching {
			registerMatchingHead(r, cfg)
		}
	case Classification:
		registerTvltModel(r, EncoderPrefix, cfg)
		registerClassifier(r, cfg)
	default:
		return fmt.Errorf("layers: unknown model kind %d", kind)
	}
	return r.err
}

// ParamShapes lists a model kind's parameters and shapes without building
// it: what a checkpoint must hold.
func ParamShapes(kind Kind, cfg config.Config) (map[string][]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := graph.NewShapeStore()
	if err := register(s, kind, cfg); err != nil {
		return nil, err
	}
	return s.Shapes(), nil
}

// EncoderPrefix is the state-dict prefix of the TvltModel part inside
// TvltForPreTraining and TvltForAudioVisualClassification.
const EncoderPrefix = "tvlt."

// EncoderPrefix is the kind's prefix of TvltModel parameters: none for
// TvltModel itself, "tvlt." inside the other two classes.
func (k Kind) EncoderPrefix() string {
	if k == Base {
		return ""
	}
	return EncoderPrefix
}

// IsHead reports whether a parameter name belongs to a head (MAE decoder,
// mask tokens and reconstruction heads, matching head, classifier): a name
// the pretraining or classification model registers outside its encoder.
// In an unprefixed (TvltModel) state dict such names can only be strays.
func IsHead(name string) bool {
	root, _, _ := strings.Cut(name, ".")
	return headRoots()[root]
}

// headRoots are the first name components of every head parameter, read
// off the registry so that a new head needs no list kept by hand.
var headRoots = sync.OnceValue(func() map[string]bool {
	roots := map[string]bool{}
	cfg := config.Default()
	for _, kind := range []Kind{Pretraining, Classification} {
		s := graph.NewShapeStore()
		if register(s, kind, cfg) != nil {
			continue // cannot happen: the default config is valid
		}
		for name := range s.Shapes() {
			if !strings.HasPrefix(name, EncoderPrefix) {
				root, _, _ := strings.Cut(name, ".")
				roots[root] = true
			}
		}
	}
	return roots
})

func itoa(i int) string { return strconv.Itoa(i) }
