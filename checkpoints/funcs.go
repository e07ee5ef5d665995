package checkpoints

import (
	"encoding/json"
	"io"
	"path/filepath"

	"gorgonia.org/tensor"
)

// SafetensorsFunc returns a WriteFolder file writer producing the same bytes
// as WriteSafetensors; validation errors surface when it runs.
func SafetensorsFunc(tensors map[string]*tensor.Dense, metadata map[string]string, opts ...WriteOption) func(io.Writer) error {
	return func(w io.Writer) error {
		cfg := writeConfig{dtype: "F32"}
		for _, o := range opts {
			o(&cfg)
		}
		enc, err := EncodeSafetensorsHeader(tensors, metadata, cfg.dtype, cfg.metaOrder...)
		if err != nil {
			return err
		}
		return enc.Encode(w)
	}
}

// NPZFunc returns a WriteFolder file writer producing the same archive as
// WriteNPZ.
func NPZFunc(arrays map[string]*tensor.Dense) func(io.Writer) error {
	return func(w io.Writer) error { return encodeNPZ(w, arrays) }
}

// JSONFunc returns a WriteFolder file writer for v as indented JSON (the
// layout of HF config.json files), with <, > and & left unescaped.
func JSONFunc(v interface{}) func(io.Writer) error {
	return func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// ReadVerifiedSafetensors checks name against dir's checksums.json, then
// reads it with ReadSafetensors; loaders of checkpoint folders use it so a
// corrupted weights file is reported instead of silently loaded.
func ReadVerifiedSafetensors(dir, name string) (map[string]*tensor.Dense, map[string]string, error) {
	if err := VerifyFile(dir, name); err != nil {
		return nil, nil, err
	}
	return ReadSafetensors(filepath.Join(dir, filepath.FromSlash(name)))
}

// ReadVerifiedNPZ is ReadVerifiedSafetensors for .npz files (optimizer or
// trainer state).
func ReadVerifiedNPZ(dir, name string) (map[string]*tensor.Dense, error) {
	if err := VerifyFile(dir, name); err != nil {
		return nil, err
	}
	return ReadNPZ(filepath.Join(dir, filepath.FromSlash(name)))
}
