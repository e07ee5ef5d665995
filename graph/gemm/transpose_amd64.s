// Copyright the TVLT-Go authors.

//go:build !purego

#include "textflag.h"

// func transpose8(src *float32, lds int, dst *float32, ldd int, ncols int)
//
// dst[c*ldd+r] = src[r*lds+c] for r < 8 and c < ncols&^3, four columns at a
// time: rows r and r+4 share a YMM register (VINSERTF128), so one
// unpack/shuffle pass yields whole 8-float output columns.
TEXT ·transpose8(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), BX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), DX
	MOVQ ncols+32(FP), CX
	SHLQ $2, BX
	SHLQ $2, DX
	LEAQ (BX)(BX*2), R8 // 3 source rows
	LEAQ (DX)(DX*2), R9 // 3 destination rows
	LEAQ (SI)(BX*4), R10 // source row 4
	SHRQ $2, CX
	JZ   done

loop:
	VMOVUPS     (SI), X0
	VINSERTF128 $1, (R10), Y0, Y0
	VMOVUPS     (SI)(BX*1), X1
	VINSERTF128 $1, (R10)(BX*1), Y1, Y1
	VMOVUPS     (SI)(BX*2), X2
	VINSERTF128 $1, (R10)(BX*2), Y2, Y2
	VMOVUPS     (SI)(R8*1), X3
	VINSERTF128 $1, (R10)(R8*1), Y3, Y3
	VUNPCKLPS   Y1, Y0, Y4
	VUNPCKHPS   Y1, Y0, Y5
	VUNPCKLPS   Y3, Y2, Y6
	VUNPCKHPS   Y3, Y2, Y7
	VSHUFPS     $0x44, Y6, Y4, Y8
	VSHUFPS     $0xEE, Y6, Y4, Y9
	VSHUFPS     $0x44, Y7, Y5, Y10
	VSHUFPS     $0xEE, Y7, Y5, Y11
	VMOVUPS     Y8, (DI)
	VMOVUPS     Y9, (DI)(DX*1)
	VMOVUPS     Y10, (DI)(DX*2)
	VMOVUPS     Y11, (DI)(R9*1)
	ADDQ        $16, SI
	ADDQ        $16, R10
	LEAQ        (DI)(DX*4), DI
	DECQ        CX
	JNZ         loop

done:
	VZEROUPPER
	RET

// func copyRows(src *float32, lds int, dst *float32, rows int, nv int)
//
// Copies rows rows of nv*8 floats from src (row stride lds floats) to dst,
// packed contiguously: the packing of a non-transposed B panel.
TEXT ·copyRows(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), BX
	MOVQ dst+16(FP), DI
	MOVQ rows+24(FP), CX
	MOVQ nv+32(FP), DX
	SHLQ $2, BX
	TESTQ CX, CX
	JZ   crdone
	CMPQ DX, $4
	JEQ  cr4
	CMPQ DX, $2
	JEQ  cr2

crrow:
	XORQ AX, AX
	MOVQ DX, R8

crvec:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	DECQ    R8
	JNZ     crvec
	ADDQ    AX, DI
	ADDQ    BX, SI
	DECQ    CX
	JNZ     crrow
	JMP     crdone

cr4:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    BX, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     cr4
	JMP     crdone

cr2:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    BX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     cr2

crdone:
	VZEROUPPER
	RET
