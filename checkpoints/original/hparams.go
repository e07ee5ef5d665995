package original

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// hparams reads the original's config dict (model/config.py's keys) from
// a Lightning checkpoint's hyper_parameters, tolerating the number types a
// pickle or JSON reader may produce.
type hparams map[string]interface{}

// originalConfig finds the config dict: Lightning stores
// save_hyperparameters() of Transformer(config) as {"config": {...},
// "model_type": "transformer"}; a bare config dict is accepted as well.
// nil (no hyper-parameters, as in the published hub files) gives nil.
func originalConfig(hp map[string]interface{}) (hparams, error) {
	if len(hp) == 0 {
		return nil, nil
	}
	if c, ok := hp["config"]; ok {
		m, ok := asMap(c)
		if !ok {
			return nil, fmt.Errorf("hyper_parameters: config is a %T, want a dict", c)
		}
		return m, nil
	}
	if _, ok := hp["loss_names"]; ok {
		return hp, nil
	}
	return nil, nil
}

func asMap(v interface{}) (map[string]interface{}, bool) {
	switch m := v.(type) {
	case map[string]interface{}:
		return m, true
	case hparams:
		return m, true
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(m))
		for k, x := range m {
			s, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[s] = x
		}
		return out, true
	}
	return nil, false
}

// has reports whether key is present and not None.
func (h hparams) has(key string) bool {
	v, ok := h[key]
	return ok && v != nil
}

// int reads an integer key; ok is false when absent.
func (h hparams) int(key string) (int, bool, error) {
	if !h.has(key) {
		return 0, false, nil
	}
	n, err := toInt(h[key])
	if err != nil {
		return 0, true, fmt.Errorf("hyper_parameters: %s: %w", key, err)
	}
	return n, true, nil
}

func toInt(v interface{}) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case int32:
		return int(x), nil
	case uint64:
		if x > math.MaxInt32 {
			return 0, fmt.Errorf("%d is too large", x)
		}
		return int(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int(x), nil
	case float32:
		return toInt(float64(x))
	case json.Number:
		return strconv.Atoi(string(x))
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

// bool reads a boolean key (Python bools, or 0/1).
func (h hparams) bool(key string) (bool, bool, error) {
	if !h.has(key) {
		return false, false, nil
	}
	if b, ok := h[key].(bool); ok {
		return b, true, nil
	}
	n, err := toInt(h[key])
	if err != nil {
		return false, true, fmt.Errorf("hyper_parameters: %s: %w", key, err)
	}
	return n != 0, true, nil
}

// string reads a string key.
func (h hparams) string(key string) (string, bool) {
	s, ok := h[key].(string)
	return s, ok
}

// ints reads a list of integers, or one integer meaning a square size.
func (h hparams) ints(key string) ([]int, bool, error) {
	if !h.has(key) {
		return nil, false, nil
	}
	var list []interface{}
	switch x := h[key].(type) {
	case []interface{}:
		list = x
	case []int:
		return x, true, nil
	case []int64:
		out := make([]int, len(x))
		for i, v := range x {
			out[i] = int(v)
		}
		return out, true, nil
	default:
		n, err := toInt(x)
		if err != nil {
			return nil, true, fmt.Errorf("hyper_parameters: %s: %w", key, err)
		}
		return []int{n}, true, nil
	}
	out := make([]int, len(list))
	for i, v := range list {
		n, err := toInt(v)
		if err != nil {
			return nil, true, fmt.Errorf("hyper_parameters: %s[%d]: %w", key, i, err)
		}
		out[i] = n
	}
	return out, true, nil
}

// lossWeight reads loss_names[task] (0 when absent).
func (h hparams) lossWeight(task string) (float64, error) {
	ln, ok := asMap(h["loss_names"])
	if !ok || ln[task] == nil {
		return 0, nil
	}
	switch x := ln[task].(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	}
	n, err := toInt(ln[task])
	if err != nil {
		return 0, fmt.Errorf("hyper_parameters: loss_names.%s: %w", task, err)
	}
	return float64(n), nil
}
