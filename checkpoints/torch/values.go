package torch

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// The unpickler builds only these values: nil, bool, int64, *big.Int,
// float64, string, []byte and the types below. Containers are pointers so
// that a value shared through the memo is one Go object (the conversions
// below memoise by pointer, so a DAG of shared containers costs linear time
// and a cycle is detected instead of followed).

// pyTuple is a Python tuple.
type pyTuple struct {
	items  []interface{}
	shared bool // see markShared
}

// pyList is a Python list, or a set/frozenset (read as its items).
type pyList struct {
	items  []interface{}
	kind   string // "list", "set", "frozenset", "sacred ReadOnlyList"
	shared bool
}

// pyDict is a dict, OrderedDict, Lightning AttributeDict or sacred
// ReadOnlyDict, keeping insertion order.
type pyDict struct {
	keys, vals []interface{}
	kind       string
	// index finds scalar keys (the only ones a state dict or config uses),
	// so that a repeated key replaces its value as in Python, in O(1).
	index  map[interface{}]int
	shared bool
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
type pyNamespace struct {
	attrs  *pyDict
	shared bool
}

// markShared flags a container fetched from the memo or duplicated: only
// such a container can be reached twice or contain itself, so only these
// are memoised and cycle-checked when converting (which keeps converting
// many small unshared containers cheap).
func markShared(v interface{}) {
	switch x := v.(type) {
	case *pyTuple:
		x.shared = true
	case *pyList:
		x.shared = true
	case *pyDict:
		x.shared = true
	case *pyNamespace:
		x.shared = true
	}
}

func isShared(v interface{}) bool {
	switch x := v.(type) {
	case *pyTuple:
		return x.shared
	case *pyList:
		return x.shared
	case *pyDict:
		return x.shared
	case *pyNamespace:
		return x.shared
	}
	return false
}

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
	// path is where the conversion is, formatted only for an error (so a
	// large config costs no string building).
	path []pathStep
}

type pathStep struct {
	index int // list index, or -1 for a dict key
	key   string
}

func newPlainConverter(root string) *plainConverter {
	return &plainConverter{done: map[interface{}]interface{}{}, active: map[interface{}]bool{}, path: []pathStep{{index: -1, key: root}}}
}

func (c *plainConverter) errorf(format string, args ...interface{}) error {
	var b strings.Builder
	for i, p := range c.path {
		switch {
		case p.index >= 0:
			fmt.Fprintf(&b, "[%d]", p.index)
		case i > 0:
			b.WriteString("." + printable(p.key))
		default:
			b.WriteString(p.key)
		}
	}
	return fmt.Errorf("%s: %s", b.String(), fmt.Sprintf(format, args...))
}

// convert returns v as a plain value.
func (c *plainConverter) convert(v interface{}) (interface{}, error) {
	if len(c.path) > maxDepth {
		return nil, c.errorf("nested more than %d levels", maxDepth)
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
		return nil, c.errorf("a %s is not a plain value", typeName(v))
	}
	shared := isShared(v)
	if shared {
		if r, ok := c.done[v]; ok {
			return r, nil
		}
		if c.active[v] {
			return nil, c.errorf("a %s that contains itself", typeName(v))
		}
		c.active[v] = true
		defer delete(c.active, v)
	}
	var out interface{}
	var err error
	switch x := v.(type) {
	case *pyTuple:
		out, err = c.list(x.items)
	case *pyList:
		out, err = c.list(x.items)
	case *pyDict:
		out, err = c.dict(x)
	case *pyNamespace:
		out, err = c.dict(x.attrs)
	}
	if err != nil {
		return nil, err
	}
	if shared {
		c.done[v] = out
	}
	return out, nil
}

func (c *plainConverter) list(items []interface{}) ([]interface{}, error) {
	out := make([]interface{}, len(items))
	c.path = append(c.path, pathStep{})
	for i, it := range items {
		c.path[len(c.path)-1] = pathStep{index: i}
		v, err := c.convert(it)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	c.path = c.path[:len(c.path)-1]
	return out, nil
}

func (c *plainConverter) dict(d *pyDict) (map[string]interface{}, error) {
	out := make(map[string]interface{}, len(d.keys))
	c.path = append(c.path, pathStep{index: -1})
	for i, k := range d.keys {
		var name string
		switch kk := k.(type) {
		case string:
			name = kk
		case int64:
			name = strconv.FormatInt(kk, 10)
		case bool:
			name = strconv.FormatBool(kk)
		case float64:
			name = strconv.FormatFloat(kk, 'g', -1, 64)
		case nil:
			name = "None"
		default:
			return nil, c.errorf("a key of type %s", typeName(k))
		}
		c.path[len(c.path)-1] = pathStep{index: -1, key: name}
		v, err := c.convert(d.vals[i])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	c.path = c.path[:len(c.path)-1]
	return out, nil
}
