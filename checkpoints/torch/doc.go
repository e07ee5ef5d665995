// Package torch reads PyTorch checkpoints — a hub pytorch_model.bin, a
// Lightning .ckpt — without Python: the zip format of torch >= 1.6 and the
// legacy format before it.
//
// torch.save writes a pickle, and unpickling in Python can call any
// function the file names. This package runs its own pickle machine that
// can build only what a state dict needs: tensors (torch._utils'
// _rebuild_tensor, _rebuild_tensor_v2/v3, _rebuild_parameter and
// torch.nn.Parameter), storage types and dtypes, collections.OrderedDict,
// and plain containers and numbers — plus, for a Lightning checkpoint's
// other entries, argparse.Namespace and Lightning's AttributeDict as
// attribute dicts, sacred's read-only config containers, sets, torch.Size
// and _codecs.encode (protocol 2's bytes). Any other global (os.system,
// builtins.eval, ...) and any call, NEWOBJ or BUILD of something not listed
// is refused with an error wrapping ErrRefused and naming it; nothing is
// ever instantiated from a name.
//
// Every length, count, size, stride and offset is checked against the file
// before anything is allocated; tensors are read only when the state dict
// needs them (an optimizer state's are never read), a chunk at a time.
package torch
