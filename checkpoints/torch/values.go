package torch

import (
	"fmt"
	"math/big"
)

// The unpickler builds only these values: nil, bool, int64, *big.Int,
// float64, string, []byte and the types below. Containers are pointers so
// that a value shared through the memo is one Go object (the conversions
// below memoise by pointer, so a DAG of shared containers costs linear time
// and a cycle is detected instead of followed).

// pyTuple is a Python tuple.
type pyTuple struct{ items []interface{} }

// pyList is a Python list, or a set/frozenset (read as its items).
type pyList struct {
	items []interface{}
	kind  string // "list", "set", "frozenset", "sacred ReadOnlyList"
}

// pyDict is a dict, OrderedDict, Lightning AttributeDict or sacred
// ReadOnlyDict, keeping insertion order.
type pyDict struct {
	keys, vals []interface{}
	kind       string
	// index finds scalar keys (the only ones a state dict or config uses),
	// so that a repeated key replaces its value as in Python, in O(1).
	index map[interface{}]int
}

func newDict(kind string) *pyDict { return &pyDict{kind: kind} }

func (d *pyDict) set(k, v interface{}) {
	if isScalar(k) {
		if i, ok := d.index[k]; ok {
			d.vals[i] = v
			return
		}
		if d.index == nil {
			d.index = map[interface{}]int{}
		}
		d.index[k] = len(d.keys)
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// get returns the value of a string key.
func (d *pyDict) get(key string) (interface{}, bool) {
	i, ok := d.index[key]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyNamespace is an argparse.Namespace: a plain attribute container.
type pyNamespace struct{ attrs *pyDict }

// pyGlobal is an allowed global (see allow.go); nothing else can be named.
type pyGlobal struct {
	module, name string
	role         globalRole
	dtype        dtype // storage classes and dtype values
}

func (g *pyGlobal) String() string { return g.module + "." + g.name }

// storageRef is a storage a persistent id names: its element type and
// count, and where its bytes are (resolved by the container format).
type storageRef struct {
	key   string
	dtype dtype // torch.UntypedStorage: dUint8, one byte per element
	numel int64
	// Legacy view storages (view_metadata) start elemOff elements into root.
	root    *storageRef
	elemOff int64
	// fileOff is the byte offset of element 0 of the root in the file, and
	// located says it has been resolved.
	fileOff int64
	located bool
}

// tensorRef is a tensor not yet read: nothing touches its storage's bytes
// until a state dict entry needs it, so optimizer states cost no reading.
type tensorRef struct {
	storage *storageRef
	dtype   dtype
	offset  int64 // in elements of dtype
	size    []int64
	stride  []int64
}

func isScalar(v interface{}) bool {
	switch v.(type) {
	case nil, bool, int64, float64, string:
		return true
	}
	return false
}

// typeName names a value's Python type for error messages; it never prints
// the value (which could be huge or cyclic).
func typeName(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *pyTuple:
		return "tuple"
	case *pyList:
		return x.kind
	case *pyDict:
		return x.kind
	case *pyNamespace:
		return "argparse.Namespace"
	case *pyGlobal:
		return x.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	case mark:
		return "MARK"
	}
	return fmt.Sprintf("%T", v)
}

// maxDepth bounds the nesting the conversions follow; configs nest a few
// levels, and a deeper structure is hostile input.
const maxDepth = 100

// plainConverter turns unpickled values into plain Go values (string,
// int64, float64, bool, nil, []interface{}, map[string]interface{}).
type plainConverter struct {
	done   map[interface{}]interface{}
	active map[interface{}]bool
}

func newPlainConverter() *plainConverter {
	return &plainConverter{done: map[interface{}]interface{}{}, active: map[interface{}]bool{}}
}

// convert returns v as a plain value; path names v in errors.
func (c *plainConverter) convert(v interface{}, path string, depth int) (interface{}, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested more than %d levels", path, maxDepth)
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		// Beyond int64: keep the digits rather than lose precision.
		return x.String(), nil
	case []byte:
		return string(x), nil
	case *pyTuple, *pyList, *pyDict, *pyNamespace:
	default:
		return nil, fmt.Errorf("%s: a %s is not a plain value", path, typeName(v))
	}
	if r, ok := c.done[v]; ok {
		return r, nil
	}
	if c.active[v] {
		return nil, fmt.Errorf("%s: a %s that contains itself", path, typeName(v))
	}
	c.active[v] = true
	defer delete(c.active, v)
	var out interface{}
	switch x := v.(type) {
	case *pyTuple:
		l, err := c.list(x.items, path, depth)
		if err != nil {
			return nil, err
		}
		out = l
	case *pyList:
		l, err := c.list(x.items, path, depth)
		if err != nil {
			return nil, err
		}
		out = l
	case *pyDict:
		m, err := c.dict(x, path, depth)
		if err != nil {
			return nil, err
		}
		out = m
	case *pyNamespace:
		m, err := c.dict(x.attrs, path, depth)
		if err != nil {
			return nil, err
		}
		out = m
	}
	c.done[v] = out
	return out, nil
}

func (c *plainConverter) list(items []interface{}, path string, depth int) ([]interface{}, error) {
	out := make([]interface{}, len(items))
	for i, it := range items {
		v, err := c.convert(it, fmt.Sprintf("%s[%d]", path, i), depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *plainConverter) dict(d *pyDict, path string, depth int) (map[string]interface{}, error) {
	out := make(map[string]interface{}, len(d.keys))
	for i, k := range d.keys {
		var name string
		switch kk := k.(type) {
		case string:
			name = kk
		case int64, bool, float64:
			name = fmt.Sprint(kk)
		case nil:
			name = "None"
		default:
			return nil, fmt.Errorf("%s: a key of type %s", path, typeName(k))
		}
		v, err := c.convert(d.vals[i], path+"."+name, depth+1)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}
