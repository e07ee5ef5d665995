package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

// cacheVersion changes whenever the cached values would change for the same inputs
// and settings (file layout or preprocessing code), so stale entries are never read.
const cacheVersion = "tvlt-data-cache-v2" // v2: audio resampled as torchaudio by default (#14)

var cacheMagic = [8]byte{'T', 'V', 'L', 'T', 'C', 'F', '0', '1'}

// featureCache stores decoded per-clip features, one file per clip and modality,
// keyed by the source files' identity (absolute path, size, modification time) and
// every preprocessing setting. Entries are written atomically; unreadable or corrupt
// entries are treated as absent and rewritten.
type featureCache struct {
	dir                  string
	videoSalt, audioSalt string
}

func newFeatureCache(dir string, c config.Config, p video.ProcessorConfig, f audio.FeatureConfig, r audio.Resampler) (*featureCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data: cache: %w", err)
	}
	return &featureCache{
		dir:       dir,
		videoSalt: fmt.Sprintf("%s|video|%d|%+v", cacheVersion, c.NumFrames, p),
		audioSalt: fmt.Sprintf("%s|audio|%+v|%v", cacheVersion, f, r),
	}, nil
}

// fileIdentity describes a file or a folder's image files; any edit changes it.
func fileIdentity(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return fmt.Sprintf("%s|%d|%d", abs, st.Size(), st.ModTime().UnixNano()), nil
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	b.WriteString(abs)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		st, err := os.Stat(filepath.Join(abs, n))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "|%s:%d:%d", n, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (fc *featureCache) keys(c Clip) (vKey, aKey string, err error) {
	vsrc := c.Video
	if vsrc == "" {
		vsrc = c.Frames
	}
	vid, err := fileIdentity(vsrc)
	if err != nil {
		return "", "", err
	}
	asrc := c.Audio
	if asrc == "" {
		asrc = c.Video
	}
	aid := ""
	if asrc != "" {
		if aid, err = fileIdentity(asrc); err != nil {
			return "", "", err
		}
	}
	h := func(parts ...string) string {
		sum := sha256.New()
		for _, p := range parts {
			sum.Write([]byte(p))
			sum.Write([]byte{0})
		}
		return hex.EncodeToString(sum.Sum(nil)[:16])
	}
	if c.IsSegment() {
		// Segments of one file share its identity; the times tell them apart.
		// (Whole-file keys stay as they were, so existing caches remain valid.)
		seg := fmt.Sprintf("segment|%v|%v", math.Float64bits(c.Start), math.Float64bits(c.End))
		return h(fc.videoSalt, vid, seg), h(fc.audioSalt, aid, seg), nil
	}
	return h(fc.videoSalt, vid), h(fc.audioSalt, aid), nil
}

func (fc *featureCache) path(key, ext string) string {
	return filepath.Join(fc.dir, key[:2], key+ext)
}

// Layout: magic, count (frames or rows), n float32 values, the values, CRC-32 of the values.
func (fc *featureCache) put(key, ext string, count int, vals []float32) {
	buf := make([]byte, 16+4*len(vals)+4)
	copy(buf, cacheMagic[:])
	binary.LittleEndian.PutUint32(buf[8:], uint32(count))
	binary.LittleEndian.PutUint32(buf[12:], uint32(len(vals)))
	body := buf[16 : 16+4*len(vals)]
	for i, v := range vals {
		binary.LittleEndian.PutUint32(body[4*i:], math.Float32bits(v))
	}
	binary.LittleEndian.PutUint32(buf[16+4*len(vals):], crc32.ChecksumIEEE(body))
	p := fc.path(key, ext)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return // caching is best effort; the features are still returned
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(buf)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
	}
}

// get returns the stored values if the entry exists, is intact and has the
// expected per-item size.
func (fc *featureCache) get(key, ext string, perItem, maxCount int) (int, []float32, bool) {
	buf, err := os.ReadFile(fc.path(key, ext))
	if err != nil || len(buf) < 20 || !bytes.Equal(buf[:8], cacheMagic[:]) {
		return 0, nil, false
	}
	count := int(binary.LittleEndian.Uint32(buf[8:]))
	n := int(binary.LittleEndian.Uint32(buf[12:]))
	if len(buf) != 16+4*n+4 || count <= 0 || count > maxCount || n != count*perItem {
		return 0, nil, false
	}
	body := buf[16 : 16+4*n]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(buf[16+4*n:]) {
		return 0, nil, false
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return count, vals, true
}

func (fc *featureCache) getVideo(key string, c config.Config) *videoPart {
	n, v, ok := fc.get(key, ".vid", 3*c.ImageSize[0]*c.ImageSize[1], c.NumFrames)
	if !ok {
		return nil
	}
	return &videoPart{frames: n, pixels: v}
}

func (fc *featureCache) getAudio(key string, c config.Config) *audioPart {
	n, v, ok := fc.get(key, ".aud", c.FrequencyLength, c.SpectrogramLength)
	if !ok {
		return nil
	}
	return &audioPart{rows: n, feat: v}
}

func (fc *featureCache) putVideo(key string, v *videoPart) { fc.put(key, ".vid", v.frames, v.pixels) }
func (fc *featureCache) putAudio(key string, a *audioPart) { fc.put(key, ".aud", a.rows, a.feat) }
