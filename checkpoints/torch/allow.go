package torch

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrRefused is wrapped by every error about a pickle naming or calling
// something outside the allowlist.
var ErrRefused = errors.New("refused")

// globalRole says what an allowed global may do.
type globalRole int

const (
	roleRebuildTensor globalRole = iota + 1 // torch._utils._rebuild_tensor
	roleRebuildTensorV2
	roleRebuildTensorV3
	roleRebuildParameter
	roleRebuildParameterWithState
	roleParameter    // torch.nn.parameter.Parameter (NEWOBJ)
	roleStorageClass // a persistent id's storage type; never called
	roleDtype        // torch.float32 etc.; a value, never called
	roleOrderedDict
	roleAttributeDict // Lightning's dict with attribute access
	roleReadOnlyDict  // sacred's read-only config dict
	roleReadOnlyList
	roleNamespace // argparse.Namespace, an attribute container
	roleSet
	roleFrozenSet
	roleSize         // torch.Size, a tuple
	roleCodecsEncode // _codecs.encode(str, "latin1"): protocol 2's bytes
)

var allowedGlobals = map[string]globalRole{
	"torch._utils._rebuild_tensor":                      roleRebuildTensor,
	"torch._utils._rebuild_tensor_v2":                   roleRebuildTensorV2,
	"torch._utils._rebuild_tensor_v3":                   roleRebuildTensorV3,
	"torch._utils._rebuild_parameter":                   roleRebuildParameter,
	"torch._utils._rebuild_parameter_with_state":        roleRebuildParameterWithState,
	"torch.nn.parameter.Parameter":                      roleParameter,
	"torch.UntypedStorage":                              roleStorageClass,
	"torch.storage.UntypedStorage":                      roleStorageClass,
	"torch.Size":                                        roleSize,
	"collections.OrderedDict":                           roleOrderedDict,
	"argparse.Namespace":                                roleNamespace,
	"pytorch_lightning.utilities.parsing.AttributeDict": roleAttributeDict,
	"lightning.pytorch.utilities.parsing.AttributeDict": roleAttributeDict,
	"lightning_fabric.utilities.data.AttributeDict":     roleAttributeDict,
	"lightning.fabric.utilities.data.AttributeDict":     roleAttributeDict,
	"sacred.config.custom_containers.ReadOnlyDict":      roleReadOnlyDict,
	"sacred.config.custom_containers.ReadOnlyList":      roleReadOnlyList,
	"builtins.set":                                      roleSet,
	"builtins.frozenset":                                roleFrozenSet,
	"__builtin__.set":                                   roleSet,
	"__builtin__.frozenset":                             roleFrozenSet,
	"_codecs.encode":                                    roleCodecsEncode,
}

// lookupGlobal returns the allowed global module.name, or an ErrRefused
// error naming it.
func lookupGlobal(module, name string) (*pyGlobal, error) {
	full := module + "." + name
	if role, ok := allowedGlobals[full]; ok {
		g := &pyGlobal{module: module, name: name, role: role}
		if role == roleStorageClass {
			g.dtype = dUint8
		}
		return g, nil
	}
	if module == "torch" {
		if d, ok := storageClasses[name]; ok {
			return &pyGlobal{module: module, name: name, role: roleStorageClass, dtype: d}, nil
		}
		if d, ok := dtypeGlobals[name]; ok {
			return &pyGlobal{module: module, name: name, role: roleDtype, dtype: d}, nil
		}
	}
	return nil, fmt.Errorf("%w: global %s is not part of a state dict (only tensor rebuild functions, storage and dtype types, OrderedDict, argparse.Namespace, Lightning's AttributeDict and plain containers are allowed; in Python loading it could run code)", ErrRefused, printable(full))
}

// printable keeps a hostile name readable and short in an error message:
// a plain dotted name as is, anything else quoted.
func printable(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "..."
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}

// call applies an allowed global to REDUCE's arguments.
func (u *unpickler) call(g *pyGlobal, args []interface{}) (interface{}, error) {
	switch g.role {
	case roleRebuildTensor:
		if len(args) != 4 {
			return nil, fmt.Errorf("%s takes 4 arguments, got %d", g, len(args))
		}
		return rebuildTensor(g, args, dNone)
	case roleRebuildTensorV2:
		if len(args) != 6 && len(args) != 7 {
			return nil, fmt.Errorf("%s takes 6 or 7 arguments, got %d", g, len(args))
		}
		return rebuildTensor(g, args, dNone)
	case roleRebuildTensorV3:
		if len(args) != 7 && len(args) != 8 {
			return nil, fmt.Errorf("%s takes 7 or 8 arguments, got %d", g, len(args))
		}
		dt, ok := args[6].(*pyGlobal)
		if !ok || dt.role != roleDtype {
			return nil, fmt.Errorf("%s: argument 7 is a %s, not a dtype", g, typeName(args[6]))
		}
		return rebuildTensor(g, args, dt.dtype)
	case roleRebuildParameter, roleRebuildParameterWithState:
		want := 3
		if g.role == roleRebuildParameterWithState {
			want = 4
		}
		if len(args) != want {
			return nil, fmt.Errorf("%s takes %d arguments, got %d", g, want, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s: argument 1 is a %s, not a tensor", g, typeName(args[0]))
		}
		return t, nil
	case roleOrderedDict, roleAttributeDict:
		d := newDict(g.String())
		if len(args) == 0 {
			return d, nil
		}
		if len(args) == 1 {
			if src, ok := args[0].(*pyDict); ok {
				for i := range src.keys {
					d.set(src.keys[i], src.vals[i])
				}
				return d, nil
			}
		}
		return nil, fmt.Errorf("%s: takes no argument or one dict, got %d arguments", g, len(args))
	case roleReadOnlyDict:
		if len(args) == 1 {
			if src, ok := args[0].(*pyDict); ok {
				d := newDict(g.String())
				for i := range src.keys {
					d.set(src.keys[i], src.vals[i])
				}
				return d, nil
			}
		}
		return nil, fmt.Errorf("%s: takes one dict", g)
	case roleReadOnlyList, roleSet, roleFrozenSet:
		kind := map[globalRole]string{roleReadOnlyList: g.String(), roleSet: "set", roleFrozenSet: "frozenset"}[g.role]
		if len(args) == 0 && g.role != roleReadOnlyList {
			return &pyList{kind: kind}, nil
		}
		if len(args) == 1 {
			if items, ok := sequence(args[0]); ok {
				return &pyList{kind: kind, items: append([]interface{}(nil), items...)}, nil
			}
		}
		return nil, fmt.Errorf("%s: takes one list or tuple", g)
	case roleNamespace:
		if len(args) != 0 {
			return nil, fmt.Errorf("%s: takes no positional arguments, got %d", g, len(args))
		}
		return &pyNamespace{attrs: newDict("argparse.Namespace")}, nil
	case roleSize:
		if len(args) == 1 {
			if items, ok := sequence(args[0]); ok {
				for _, it := range items {
					if _, ok := it.(int64); !ok {
						return nil, fmt.Errorf("%s: a %s among the sizes", g, typeName(it))
					}
				}
				return &pyTuple{items: append([]interface{}(nil), items...)}, nil
			}
		}
		return nil, fmt.Errorf("%s: takes one tuple of ints", g)
	case roleCodecsEncode:
		if len(args) == 2 {
			s, ok1 := args[0].(string)
			enc, ok2 := args[1].(string)
			if ok1 && ok2 && enc == "latin1" {
				out := make([]byte, 0, len(s))
				for _, r := range s {
					if r > 0xff {
						return nil, fmt.Errorf("%s: character %U is not latin1", g, r)
					}
					out = append(out, byte(r))
				}
				return out, nil
			}
		}
		return nil, fmt.Errorf("%s: only (str, \"latin1\") is allowed", g)
	case roleParameter:
		return u.newObj(g, args)
	}
	return nil, fmt.Errorf("%w: %s cannot be called (it names a %s)", ErrRefused, g, roleNoun(g.role))
}

func roleNoun(r globalRole) string {
	switch r {
	case roleStorageClass:
		return "storage type for persistent ids"
	case roleDtype:
		return "dtype value"
	}
	return "type that is not built this way"
}

// newObj applies NEWOBJ (cls.__new__(cls, *args)) to an allowed class.
func (u *unpickler) newObj(g *pyGlobal, args []interface{}) (interface{}, error) {
	switch g.role {
	case roleNamespace:
		if len(args) != 0 {
			return nil, fmt.Errorf("%s: __new__ takes no arguments, got %d", g, len(args))
		}
		return &pyNamespace{attrs: newDict("argparse.Namespace")}, nil
	case roleAttributeDict, roleOrderedDict:
		if len(args) != 0 {
			return nil, fmt.Errorf("%s: __new__ takes no arguments, got %d", g, len(args))
		}
		return newDict(g.String()), nil
	case roleParameter:
		// Parameter(data, requires_grad): the data tensor is all we keep.
		if len(args) == 0 || len(args) > 2 {
			return nil, fmt.Errorf("%s takes 1 or 2 arguments, got %d", g, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s: argument 1 is a %s, not a tensor", g, typeName(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s cannot be instantiated with NEWOBJ", ErrRefused, g)
}

// build applies BUILD (setstate) to the few objects that have state.
func build(inst, state interface{}) error {
	switch x := inst.(type) {
	case *pyDict, *pyList:
		// OrderedDict's __dict__ (a state dict's _metadata: per-module
		// version numbers), an AttributeDict's or sacred's attributes:
		// plain data nobody needs.
		if isStateDict(state) {
			return nil
		}
		if t, ok := state.(*pyTuple); ok && len(t.items) == 2 && isStateDict(t.items[0]) && isStateDict(t.items[1]) {
			return nil
		}
		return fmt.Errorf("%w: BUILD of a %s with a %s state", ErrRefused, typeName(inst), typeName(state))
	case *pyNamespace:
		d, ok := state.(*pyDict)
		if !ok {
			return fmt.Errorf("%w: BUILD of an argparse.Namespace with a %s state", ErrRefused, typeName(state))
		}
		for i, k := range d.keys {
			if _, ok := k.(string); !ok {
				return fmt.Errorf("argparse.Namespace attribute name is a %s", typeName(k))
			}
			x.attrs.set(k, d.vals[i])
		}
		return nil
	}
	return fmt.Errorf("%w: BUILD of a %s (only dicts and argparse.Namespace take state)", ErrRefused, typeName(inst))
}

func isStateDict(v interface{}) bool {
	if v == nil {
		return true
	}
	_, ok := v.(*pyDict)
	return ok
}

// sequence returns a tuple's or list's items.
func sequence(v interface{}) ([]interface{}, bool) {
	switch x := v.(type) {
	case *pyTuple:
		return x.items, true
	case *pyList:
		return x.items, true
	}
	return nil, false
}
