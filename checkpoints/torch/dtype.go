package torch

// dtype is a torch element type.
type dtype int

const (
	dNone dtype = iota
	dFloat32
	dFloat16
	dBFloat16
	dFloat64
	dInt64
	dInt32
	dInt16
	dInt8
	dUint8
	dBool
	// Types a storage may have but this package does not convert; a tensor
	// of one of them is an error only if the state dict needs it.
	dComplex64
	dComplex128
	dQInt8
	dQUInt8
	dQInt32
)

var dtypeInfo = map[dtype]struct {
	name string
	size int64
}{
	dFloat32:    {"float32", 4},
	dFloat16:    {"float16", 2},
	dBFloat16:   {"bfloat16", 2},
	dFloat64:    {"float64", 8},
	dInt64:      {"int64", 8},
	dInt32:      {"int32", 4},
	dInt16:      {"int16", 2},
	dInt8:       {"int8", 1},
	dUint8:      {"uint8", 1},
	dBool:       {"bool", 1},
	dComplex64:  {"complex64", 8},
	dComplex128: {"complex128", 16},
	dQInt8:      {"qint8", 1},
	dQUInt8:     {"quint8", 1},
	dQInt32:     {"qint32", 4},
}

func (d dtype) String() string { return dtypeInfo[d].name }

// size is the element size in bytes.
func (d dtype) size() int64 { return dtypeInfo[d].size }

// storageClasses maps torch's typed storage class names (module torch) to
// their element type.
var storageClasses = map[string]dtype{
	"FloatStorage":         dFloat32,
	"HalfStorage":          dFloat16,
	"BFloat16Storage":      dBFloat16,
	"DoubleStorage":        dFloat64,
	"LongStorage":          dInt64,
	"IntStorage":           dInt32,
	"ShortStorage":         dInt16,
	"CharStorage":          dInt8,
	"ByteStorage":          dUint8,
	"BoolStorage":          dBool,
	"ComplexFloatStorage":  dComplex64,
	"ComplexDoubleStorage": dComplex128,
	"QInt8Storage":         dQInt8,
	"QUInt8Storage":        dQUInt8,
	"QInt32Storage":        dQInt32,
}

// dtypeGlobals maps the names torch pickles dtypes under (module torch,
// e.g. torch.float32) to element types.
var dtypeGlobals = map[string]dtype{
	"float32":    dFloat32,
	"float":      dFloat32,
	"float16":    dFloat16,
	"half":       dFloat16,
	"bfloat16":   dBFloat16,
	"float64":    dFloat64,
	"double":     dFloat64,
	"int64":      dInt64,
	"long":       dInt64,
	"int32":      dInt32,
	"int":        dInt32,
	"int16":      dInt16,
	"short":      dInt16,
	"int8":       dInt8,
	"uint8":      dUint8,
	"bool":       dBool,
	"complex64":  dComplex64,
	"cfloat":     dComplex64,
	"complex128": dComplex128,
	"cdouble":    dComplex128,
}
