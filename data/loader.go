package data

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
)

// LoaderOptions configure batching, parallelism and pretraining extras.
type LoaderOptions struct {
	BatchSize int   // clips per batch (required)
	Shuffle   bool  // reorder clips every epoch, from (Seed, epoch)
	Seed      int64 // seeds shuffling, MAE noise and negative partners
	Workers   int   // decoding goroutines (default GOMAXPROCS); never changes the batches
	Prefetch  int   // batches decoded ahead of the consumer (default 2)
	DropLast  bool  // drop a final batch smaller than BatchSize
	// Pretraining adds MAE permutations (ratios and audio mask type from the config) and
	// matching pairs: PixelValuesMixed/PixelMaskMixed/MatchingLabels.
	Pretraining bool
	// NegativeRatio is the share of matching negatives (video of another clip);
	// 0 means the default 0.5, a negative value means no negatives.
	NegativeRatio float64
	// Padding is the shape each batch is padded to: the batch's longest clip
	// (the zero value, the reference's), the maximum (one shape for every
	// full batch) or audio rounded up to buckets.
	Padding Padding
	// MaskRealOnly masks each clip as the reference would mask it alone,
	// padding aside (config.RealOnlyNoise; not the reference's masking).
	MaskRealOnly bool
	// AudioResampler resamples audio files at another rate than the
	// feature extractor's (zero: torchaudio's, as the original TVLT).
	AudioResampler audio.Resampler
	// CacheDir keeps decoded per-clip features on disk (keyed by source path, size,
	// mtime and all preprocessing settings), so later epochs skip ffmpeg and decoding.
	CacheDir string
	// SkipBad drops clips that fail to load from their batch (which shrinks) and
	// records them in Skipped instead of failing the epoch.
	SkipBad bool
	// Decoders replace the default file readers (tests count or fail decodes).
	Decoders Decoders
}

// Skip records one clip dropped under SkipBad.
type Skip struct {
	Index  int // clip index in the loader
	ID     string
	Where  string // manifest line
	File   string
	Reason string
}

// Loader turns clips into batches. Batch k of epoch e always holds the same clips and
// the same random masks and negatives for the same seed, whatever the number of
// workers, so a run resumes exactly with Start(e, k).
type Loader struct {
	clips    []Clip
	cfg      config.Config
	opts     LoaderOptions
	sl       *sampleLoader
	negRatio float64

	mu      sync.Mutex
	skipped map[int]Skip
}

// NewLoader validates the model config and options; nothing is decoded until iteration.
func NewLoader(clips []Clip, cfg config.Config, opts LoaderOptions) (*Loader, error) {
	if len(clips) == 0 {
		return nil, errors.New("data: loader: no clips")
	}
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("data: loader: BatchSize %d must be positive", opts.BatchSize)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 2
	}
	neg := opts.NegativeRatio
	switch {
	case neg == 0:
		neg = 0.5
	case neg < 0:
		neg = 0
	case neg > 1:
		return nil, fmt.Errorf("data: loader: NegativeRatio %v is above 1", neg)
	}
	if opts.Pretraining && neg > 0 && len(clips) < 2 {
		return nil, errors.New("data: loader: matching negatives need at least 2 clips")
	}
	sl, err := newSampleLoader(cfg, opts.Decoders, opts.AudioResampler, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	// Mixed label kinds would make the trainer's label tensor ambiguous.
	kind, first := LabelNone, -1
	for i, c := range clips {
		if c.Label.Kind == LabelNone {
			continue
		}
		if first < 0 {
			kind, first = c.Label.Kind, i
			continue
		}
		if c.Label.Kind != kind {
			return nil, fmt.Errorf("data: loader: %s: label is a %s but %s has a %s label", c.where(), c.Label.Kind, clips[first].where(), kind)
		}
	}
	return &Loader{
		clips: clips, cfg: cfg, opts: opts, sl: sl,
		negRatio: neg, skipped: map[int]Skip{},
	}, nil
}

// Len is the number of batches per epoch (before any SkipBad shrinkage).
func (l *Loader) Len() int {
	n, b := len(l.clips), l.opts.BatchSize
	if l.opts.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Clips returns the loader's clips (index i is Batch.Indices' clip i).
func (l *Loader) Clips() []Clip { return l.clips }

// Config returns the model config the loader builds batches for.
func (l *Loader) Config() config.Config { return l.cfg }

// Skipped lists the clips dropped under SkipBad so far, by clip index.
func (l *Loader) Skipped() []Skip {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Skip, 0, len(l.skipped))
	for _, s := range l.skipped {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func (l *Loader) recordSkip(idx int, err error) {
	s := Skip{Index: idx, ID: l.clips[idx].ID, Where: l.clips[idx].where(), Reason: err.Error()}
	var se *SampleError
	if errors.As(err, &se) {
		s.File, s.Reason = se.File, se.Err.Error()
	}
	l.mu.Lock()
	l.skipped[idx] = s
	l.mu.Unlock()
}

// Random streams: every random choice comes from its own PCG keyed by
// (Seed, stream) and (epoch, clip index), so it does not depend on scheduling.
const (
	streamShuffle uint64 = iota + 1
	streamMatch
	streamPixelMask
	streamAudioMask
)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (l *Loader) rng(stream uint64, epoch, idx int) *rand.Rand {
	return clipRNG(l.opts.Seed, stream, epoch, idx)
}

// Order returns the clip indices of an epoch in batch order.
func (l *Loader) Order(epoch int) []int {
	if !l.opts.Shuffle {
		order := make([]int, len(l.clips))
		for i := range order {
			order[i] = i
		}
		return order
	}
	return l.rng(streamShuffle, epoch, 0).Perm(len(l.clips))
}

// partner picks the matching negative for clip idx (-1 for a true pair).
func (l *Loader) partner(epoch, idx int) int {
	if !l.opts.Pretraining || l.negRatio == 0 {
		return -1
	}
	r := l.rng(streamMatch, epoch, idx)
	if r.Float64() >= l.negRatio {
		return -1
	}
	p := r.IntN(len(l.clips) - 1)
	if p >= idx {
		p++
	}
	return p
}

// Iter walks one epoch. Next returns the batches in order and io.EOF at the end;
// Position tells where to restart after a checkpoint. Close stops the workers early.
type Iter struct {
	l         *Loader
	epoch     int
	next      int
	slots     chan *slot
	quit      chan struct{}
	closeOnce sync.Once
	err       error
}

type slot struct {
	k     int
	ready chan struct{}
	batch *Batch
	err   error
}

type sampleJob struct {
	idx       int
	withAudio bool
	out       *sampleResult
	wg        *sync.WaitGroup
}

type sampleResult struct {
	s   *Sample
	err error
}

// Epoch starts an epoch at its first batch.
func (l *Loader) Epoch(epoch int) *Iter {
	it, _ := l.Start(epoch, 0)
	return it
}

// Start begins epoch at batch index batch (0 <= batch <= Len()), producing exactly
// the batches an uninterrupted run would have produced from there on.
func (l *Loader) Start(epoch, batch int) (*Iter, error) {
	if epoch < 0 || batch < 0 || batch > l.Len() {
		return nil, fmt.Errorf("data: loader: cannot start epoch %d at batch %d of %d", epoch, batch, l.Len())
	}
	it := &Iter{
		l: l, epoch: epoch, next: batch,
		slots: make(chan *slot, l.opts.Prefetch),
		quit:  make(chan struct{}),
	}
	jobs := make(chan sampleJob, l.opts.BatchSize)
	for w := 0; w < l.opts.Workers; w++ {
		go l.worker(jobs, it.quit)
	}
	go l.dispatch(it, jobs, l.Order(epoch), batch)
	return it, nil
}

func (l *Loader) worker(jobs <-chan sampleJob, quit <-chan struct{}) {
	for j := range jobs {
		select {
		case <-quit:
			j.out.err = errors.New("data: loader: iteration closed")
		default:
			s, err := l.sl.load(l.clips[j.idx], j.withAudio)
			if s != nil {
				s.Index = j.idx
			}
			j.out.s, j.out.err = s, err
		}
		j.wg.Done()
	}
}

func (l *Loader) dispatch(it *Iter, jobs chan<- sampleJob, order []int, start int) {
	defer close(it.slots)
	defer close(jobs)
	B := l.opts.BatchSize
	for k := start; k < l.Len(); k++ {
		idxs := order[k*B : min((k+1)*B, len(order))]
		partners := make([]int, len(idxs))
		own := make([]sampleResult, len(idxs))
		mixed := make([]sampleResult, len(idxs))
		var wg sync.WaitGroup
		var list []sampleJob
		for j, idx := range idxs {
			partners[j] = l.partner(it.epoch, idx)
			list = append(list, sampleJob{idx: idx, withAudio: true, out: &own[j], wg: &wg})
			if partners[j] >= 0 {
				list = append(list, sampleJob{idx: partners[j], out: &mixed[j], wg: &wg})
			}
		}
		wg.Add(len(list))
		s := &slot{k: k, ready: make(chan struct{})}
		select {
		case it.slots <- s:
		case <-it.quit:
			return
		}
		go func() {
			wg.Wait()
			select {
			case <-it.quit:
				s.err = errors.New("data: loader: iteration closed")
			default:
				s.batch, s.err = l.collate(it.epoch, k, idxs, partners, own, mixed)
			}
			close(s.ready)
		}()
		for n, j := range list {
			select {
			case jobs <- j:
			case <-it.quit:
				for range list[n:] {
					wg.Done()
				}
				return
			}
		}
	}
}

// Next returns the next batch, or io.EOF after the epoch's last batch. Under SkipBad a
// batch whose clips all failed is passed over. Errors are sticky.
func (it *Iter) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	for {
		s, ok := <-it.slots
		if !ok {
			it.err = io.EOF
			it.Close()
			return nil, io.EOF
		}
		<-s.ready
		it.next = s.k + 1
		if s.err != nil {
			it.err = s.err
			it.Close()
			return nil, s.err
		}
		if s.batch != nil {
			return s.batch, nil
		}
	}
}

// Position is (epoch, index of the next batch Next will return); pass it to Start to resume.
func (it *Iter) Position() (epoch, batch int) { return it.epoch, it.next }

// Close stops the iteration's goroutines; Next then returns an error. Safe to call twice.
func (it *Iter) Close() {
	it.closeOnce.Do(func() {
		close(it.quit)
		if it.err == nil {
			it.err = errors.New("data: loader: iteration closed")
		}
	})
}

// Batch is one model input. Shapes in comments; all slices are row-major.
type Batch struct {
	Epoch, Index   int      // position: batch Index of epoch Epoch
	IDs            []string // clip IDs
	Indices        []int    // clip indices in the loader
	PixelValues    []float32
	PixelShape     [5]int // (B,T,C,H,W)
	PixelMask      []float32
	PixelMaskShape [2]int // (B, T*Np)
	AudioValues    []float32
	AudioShape     [4]int // (B,1,Tspec,F)
	AudioMask      []float32
	AudioMaskShape [2]int // (B, La)
	Labels         []Label
	// pretraining only:
	// MAE permutations (config.Replay derives ids_keep, ids_restore and label masks):
	PixelIDsShuffle  []int64   // (B, T*Np)
	PixelLenKeep     int       // config.PixelLenKeep(T*Np)
	AudioIDsShuffle  []int64   // (B, La)
	AudioLenKeep     int       // config.AudioLenKeep(La)
	PixelValuesMixed []float32 // (B,T,C,H,W)
	PixelMaskMixed   []float32 // (B, T*Np)
	MatchingLabels   []float32 // (B,1): 1 = true pair
	Partners         []int     // clip index of the mixed video's source (own index for true pairs)
}

// Size is the number of clips in the batch.
func (b *Batch) Size() int { return len(b.IDs) }

func (l *Loader) collate(epoch, k int, idxs, partners []int, own, mixed []sampleResult) (*Batch, error) {
	var samples []*Sample
	var mix []*Sample
	var part []int
	for j := range idxs {
		if own[j].err != nil {
			if !l.opts.SkipBad {
				return nil, own[j].err
			}
			l.recordSkip(idxs[j], own[j].err)
			continue
		}
		samples = append(samples, own[j].s)
		part = append(part, partners[j])
		if partners[j] >= 0 && mixed[j].err != nil {
			if !l.opts.SkipBad {
				return nil, mixed[j].err
			}
			l.recordSkip(partners[j], mixed[j].err)
		}
		mix = append(mix, mixed[j].s)
	}
	if len(samples) == 0 {
		return nil, nil
	}
	// A negative whose partner failed borrows the video of the next good clip of this
	// batch (deterministic), or becomes a true pair when the batch has no other clip.
	for j := range samples {
		if part[j] >= 0 && mix[j] == nil {
			part[j] = -1
			for d := 1; d < len(samples); d++ {
				o := samples[(j+d)%len(samples)]
				if o.Index != samples[j].Index {
					part[j], mix[j] = o.Index, o
					break
				}
			}
		}
	}
	return l.assemble(epoch, k, samples, mix, part), nil
}

// assemble pads and stacks samples; mix[j]/part[j] hold the negative partners.
// The padding and masks are the in-memory Processor's (batchSpec.stack, drawMasks).
func (l *Loader) assemble(epoch, k int, samples, mix []*Sample, part []int) *Batch {
	var m []*Sample
	if l.opts.Pretraining {
		m = make([]*Sample, len(samples))
		for j := range samples {
			if part[j] >= 0 {
				m[j] = mix[j]
			}
		}
	}
	b := loaderSpec(l.cfg, l.opts.Padding).stack(samples, m)
	b.Epoch, b.Index = epoch, k
	if !l.opts.Pretraining {
		return b
	}
	b.Partners = make([]int, len(samples))
	for j, x := range samples {
		b.Partners[j] = x.Index
		if part[j] >= 0 {
			b.Partners[j] = part[j]
		}
	}
	drawMasks(l.cfg, b, true, true, l.opts.MaskRealOnly, func(j int, stream uint64) *rand.Rand {
		return l.rng(stream, epoch, samples[j].Index)
	})
	return b
}
