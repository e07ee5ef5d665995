//go:build !purego

#include "textflag.h"

// The AdamW update of adamwKernelGo on one vector at byte offset off from
// the element index BX, with p, g, m, v in SI, DI, R8, R9 and the broadcast
// coefficients decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep in K0..K7
// (the macro arguments). G, A, B, C are scratch vector registers. Every
// operation rounds (no FMA), and the first source operand of each
// commutative operation is the one the Go compiler puts first, so that even
// NaN payloads come out as in the Go loop:
//
//	A = omb1*g; B = m*b1; A = A+B (mi)
//	B = v*b2; C = omb2*g; C = g*C; C = C+B (vi)
//	C = sqrt(C)/bc2sqrt + eps (denom)
//	A = (mi*negStep)/denom; B = p*decay; p = B+A
#define ADAMW_STEP(off, G, A, B, C, decay, b1, omb1, b2, omb2, bc2sqrt, eps, negStep) \
	VMOVUPS off(DI)(BX*4), G   \
	VMULPS  G, omb1, A         \
	VMOVUPS off(R8)(BX*4), B   \
	VMULPS  b1, B, B           \
	VADDPS  B, A, A            \
	VMOVUPS A, off(R8)(BX*4)   \
	VMOVUPS off(R9)(BX*4), B   \
	VMULPS  b2, B, B           \
	VMULPS  G, omb2, C         \
	VMULPS  C, G, C            \
	VADDPS  B, C, C            \
	VMOVUPS C, off(R9)(BX*4)   \
	VSQRTPS C, C               \
	VDIVPS  bc2sqrt, C, C      \
	VADDPS  eps, C, C          \
	VMULPS  negStep, A, A      \
	VDIVPS  C, A, A            \
	VMOVUPS off(SI)(BX*4), B   \
	VMULPS  decay, B, B        \
	VADDPS  A, B, B            \
	VMOVUPS B, off(SI)(BX*4)


// func adamwAVX512(p, gr, m, v *float32, n int, c *coef)
// n is a positive multiple of 16.
TEXT ·adamwAVX512(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ gr+8(FP), DI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), DX
	VBROADCASTSS 0(DX), Z16
	VBROADCASTSS 4(DX), Z17
	VBROADCASTSS 8(DX), Z18
	VBROADCASTSS 12(DX), Z19
	VBROADCASTSS 16(DX), Z20
	VBROADCASTSS 20(DX), Z21
	VBROADCASTSS 24(DX), Z22
	VBROADCASTSS 28(DX), Z23
	XORQ BX, BX
	MOVQ CX, AX
	ANDQ $~63, AX // elements done 64 at a time

loop64:
	CMPQ BX, AX
	JAE  tail16
	ADAMW_STEP(0, Z0, Z1, Z2, Z3, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADAMW_STEP(64, Z4, Z5, Z6, Z7, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADAMW_STEP(128, Z8, Z9, Z10, Z11, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADAMW_STEP(192, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADDQ $64, BX
	JMP  loop64

tail16:
	CMPQ BX, CX
	JAE  done512
	ADAMW_STEP(0, Z0, Z1, Z2, Z3, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADDQ $16, BX
	JMP  tail16

done512:
	VZEROUPPER
	RET

// func adamwAVX2(p, gr, m, v *float32, n int, c *coef)
// n is a positive multiple of 8.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ gr+8(FP), DI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), DX
	VBROADCASTSS 0(DX), Y8
	VBROADCASTSS 4(DX), Y9
	VBROADCASTSS 8(DX), Y10
	VBROADCASTSS 12(DX), Y11
	VBROADCASTSS 16(DX), Y12
	VBROADCASTSS 20(DX), Y13
	VBROADCASTSS 24(DX), Y14
	VBROADCASTSS 28(DX), Y15
	XORQ BX, BX
	MOVQ CX, AX
	ANDQ $~15, AX // elements done 16 at a time

loop16:
	CMPQ BX, AX
	JAE  tail8
	ADAMW_STEP(0, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	ADAMW_STEP(32, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	ADDQ $16, BX
	JMP  loop16

tail8:
	CMPQ BX, CX
	JAE  done256
	ADAMW_STEP(0, Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	ADDQ $8, BX
	JMP  tail8

done256:
	VZEROUPPER
	RET
