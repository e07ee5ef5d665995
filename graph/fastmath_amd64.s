//go:build !purego

#include "textflag.h"

// Vector forms of exp32, erf32 and the float32 GELU kernels (fastmath.go). They repeat the
// scalar operation sequence lane by lane, rounding after every multiply and add (no FMA), so
// each element is bit-identical to the Go code.

#define CONST32(name, bits) \
	DATA name<>+0(SB)/4, bits; DATA name<>+4(SB)/4, bits; \
	DATA name<>+8(SB)/4, bits; DATA name<>+12(SB)/4, bits; \
	DATA name<>+16(SB)/4, bits; DATA name<>+20(SB)/4, bits; \
	DATA name<>+24(SB)/4, bits; DATA name<>+28(SB)/4, bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

#define CONST64(name, bits) \
	DATA name<>+0(SB)/8, bits; DATA name<>+8(SB)/8, bits; \
	DATA name<>+16(SB)/8, bits; DATA name<>+24(SB)/8, bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST32(expLo, $0xc2aeac4f)   // -87.33654
CONST32(expHi, $0x42b17217)   // 88.72283
CONST32(log2e, $0x3fb8aa3b)   // 1.442695
CONST32(signBit, $0x80000000)
CONST32(half, $0x3f000000)    // 0.5
CONST32(ln2hi, $0x3f318000)   // 0.6933594
CONST32(ln2lo, $0xb95e8083)   // -0.00021219444
CONST32(expC0, $0x39506967)   // 1.9875691500e-4
CONST32(expC1, $0x3ab743ce)   // 1.3981999507e-3
CONST32(expC2, $0x3c088908)   // 8.3334519073e-3
CONST32(expC3, $0x3d2aa9c1)   // 4.1665795894e-2
CONST32(expC4, $0x3e2aaaaa)   // 1.6666665459e-1
CONST32(expC5, $0x3f000000)   // 5.0000001201e-1
CONST32(one, $0x3f800000)     // 1
CONST32(posInf, $0x7f800000)  // +Inf
CONST32(int127, $0x0000007f)  // int32 127
CONST32(invSqrt2, $0x3f3504f3)   // float32(1/√2)
CONST32(invSqrt2Pi, $0x3ecc422a) // float32(1/√(2π))
CONST32(negHalf, $0xbf000000)    // -0.5
CONST64(erfMin, $0xc010000000000000) // -4
CONST64(erfMax, $0x4010000000000000) // 4
CONST64(erfP0, $0xbdf2bbe1536358b7)  // -2.72614225801306e-10
CONST64(erfP1, $0x3e5dbffdb951fff6)  // 2.77068142495902e-08
CONST64(erfP2, $0xbec19fea2baa463b)  // -2.10102402082508e-06
CONST64(erfP3, $0xbf0dd85a4dc426e3)  // -5.69250639462346e-05
CONST64(erfP4, $0xbf48158c5c2ce6a4)  // -7.34990630326855e-04
CONST64(erfP5, $0xbf68343eb19d459e)  // -2.95459980854025e-03
CONST64(erfP6, $0xbf907b7a82ed1713)  // -1.60960333262415e-02
CONST64(erfQ0, $0xbeee8c19abb84b81)  // -1.45660718464996e-05
CONST64(erfQ1, $0xbf2bf7a52db09376)  // -2.13374055278905e-04
CONST64(erfQ2, $0xbf5b9249b4778fb8)  // -1.68282697438203e-03
CONST64(erfQ3, $0xbf7e337efa2c2f02)  // -7.37332916720468e-03
CONST64(erfQ4, $0xbf8d36d4ddb1cdc3)  // -1.42647390514189e-02

// ---------------------------------------------------------------------------------------
// AVX2

// EXP256: Y5 = exp32(Y0) lane by lane; clobbers Y1-Y7.
#define EXP256 \
	VMULPS     log2e<>(SB), Y0, Y1; \ // t = x·log2e
	VANDPS     signBit<>(SB), Y1, Y2; \
	VORPS      half<>(SB), Y2, Y2; \ // ±0.5 with the sign of t (t = −0 gives n = 0 either way)
	VADDPS     Y2, Y1, Y1; \
	VCVTTPS2DQ Y1, Y1; \ // n
	VCVTDQ2PS  Y1, Y2; \ // fn
	VMULPS     ln2hi<>(SB), Y2, Y3; \
	VSUBPS     Y3, Y0, Y3; \
	VMULPS     ln2lo<>(SB), Y2, Y4; \
	VSUBPS     Y4, Y3, Y3; \ // r
	VMULPS     Y3, Y3, Y4; \ // r2
	VMULPS     expC0<>(SB), Y3, Y5; \
	VADDPS     expC1<>(SB), Y5, Y5; \
	VMULPS     Y3, Y5, Y5; \
	VADDPS     expC2<>(SB), Y5, Y5; \ // pa
	VMULPS     expC3<>(SB), Y3, Y6; \
	VADDPS     expC4<>(SB), Y6, Y6; \
	VMULPS     Y3, Y6, Y6; \
	VADDPS     expC5<>(SB), Y6, Y6; \ // pb
	VMULPS     Y3, Y4, Y7; \ // r2·r
	VMULPS     Y7, Y5, Y5; \
	VADDPS     Y6, Y5, Y5; \
	VMULPS     Y4, Y5, Y5; \
	VADDPS     Y3, Y5, Y5; \
	VADDPS     one<>(SB), Y5, Y5; \ // p
	VPCMPGTD   int127<>(SB), Y1, Y2; \ // n > 127: p·2·2^(n−1)
	VPADDD     Y2, Y1, Y1; \
	VADDPS     Y5, Y5, Y6; \
	VBLENDVPS  Y2, Y6, Y5, Y5; \
	VPADDD     int127<>(SB), Y1, Y1; \
	VPSLLD     $23, Y1, Y1; \
	VMULPS     Y1, Y5, Y5; \
	VCMPPS     $0x1d, expLo<>(SB), Y0, Y2; \ // x >= lo (false for NaN): else 0
	VANDPS     Y2, Y5, Y5; \
	VCMPPS     $0x1e, expHi<>(SB), Y0, Y2; \ // x > hi: +Inf
	VBLENDVPS  Y2, posInf<>(SB), Y5, Y5; \
	VCMPPS     $3, Y0, Y0, Y2; \ // NaN: x
	VBLENDVPS  Y2, Y0, Y5, Y5

// ERF4: p = the erf32 ratio of the 4 float64 lanes of x (before rounding to float32);
// clobbers x, x2, q.
#define ERF4(x, x2, p, q) \
	VMAXPD erfMin<>(SB), x, x; \
	VMINPD erfMax<>(SB), x, x; \
	VMULPD x, x, x2; \
	VMULPD erfP0<>(SB), x2, p; \
	VADDPD erfP1<>(SB), p, p; \
	VMULPD x2, p, p; \
	VADDPD erfP2<>(SB), p, p; \
	VMULPD x2, p, p; \
	VADDPD erfP3<>(SB), p, p; \
	VMULPD x2, p, p; \
	VADDPD erfP4<>(SB), p, p; \
	VMULPD x2, p, p; \
	VADDPD erfP5<>(SB), p, p; \
	VMULPD x2, p, p; \
	VADDPD erfP6<>(SB), p, p; \
	VMULPD x, p, p; \
	VMULPD erfQ0<>(SB), x2, q; \
	VADDPD erfQ1<>(SB), q, q; \
	VMULPD x2, q, q; \
	VADDPD erfQ2<>(SB), q, q; \
	VMULPD x2, q, q; \
	VADDPD erfQ3<>(SB), q, q; \
	VMULPD x2, q, q; \
	VADDPD erfQ4<>(SB), q, q; \
	VDIVPD q, p, p

// ERF256: Y5 = erf32(Y1); clobbers Y2-Y9.
#define ERF256 \
	VCVTPS2PD    X1, Y2; \
	VEXTRACTF128 $1, Y1, X3; \
	VCVTPS2PD    X3, Y3; \
	ERF4(Y2, Y4, Y5, Y6); \
	ERF4(Y3, Y7, Y8, Y9); \
	VCVTPD2PSY   Y5, X5; \
	VCVTPD2PSY   Y8, X8; \
	VINSERTF128  $1, X8, Y5, Y5; \
	VCMPPS       $3, Y1, Y1, Y2; \
	VBLENDVPS    Y2, Y1, Y5, Y5

// func expSubSumAVX2(row []float32, m float32) float64
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-40
	MOVQ         row_base+0(FP), SI
	MOVQ         row_len+8(FP), CX
	VBROADCASTSS m+24(FP), Y8
	VXORPD       Y9, Y9, Y9
	VXORPD       Y10, Y10, Y10
	SHRQ         $3, CX
	JZ           done

loop:
	VMOVUPS      (SI), Y0
	VSUBPS       Y8, Y0, Y0
	EXP256
	VMOVUPS      Y5, (SI)
	VCVTPS2PD    X5, Y6
	VEXTRACTF128 $1, Y5, X7
	VCVTPS2PD    X7, Y7
	VADDPD       Y6, Y9, Y9
	VADDPD       Y7, Y10, Y10
	ADDQ         $32, SI
	DECQ         CX
	JNZ          loop

done:
	VADDPD       Y10, Y9, Y9
	VEXTRACTF128 $1, Y9, X10
	VADDPD       X10, X9, X9
	VUNPCKHPD    X9, X9, X10
	VADDSD       X10, X9, X9
	VMOVSD       X9, ret+32(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x []float32, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS s+24(FP), Y1
	SHRQ         $3, CX
	JZ           done

loop:
	VMULPS  (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// func geluFwdAVX2(x, y []float32)
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VMULPS  invSqrt2<>(SB), Y0, Y1 // u = x/√2
	ERF256
	VADDPS  one<>(SB), Y5, Y5      // 1 + erf
	VMULPS  half<>(SB), Y0, Y6     // 0.5·x
	VMULPS  Y5, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// func geluBwdAVX2(x, g, dx []float32)
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ g_base+24(FP), DX
	MOVQ dx_base+48(FP), DI
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y10
	VMULPS  negHalf<>(SB), Y10, Y0
	VMULPS  Y10, Y0, Y0              // −0.5·x·x
	EXP256
	VMULPS  invSqrt2Pi<>(SB), Y5, Y11 // pdf
	VMULPS  Y11, Y10, Y11            // x·pdf
	VMULPS  invSqrt2<>(SB), Y10, Y1
	ERF256
	VADDPS  one<>(SB), Y5, Y5
	VMULPS  half<>(SB), Y5, Y5       // cdf
	VADDPS  Y11, Y5, Y5
	VMULPS  (DX), Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------
// AVX-512. The last partial vector of each slice is done under a mask.

// expSubSumAVX512 keeps its constants in Z16-Z31.
// EXP512R: Z5 = exp32(Z0); clobbers Z1-Z7, K1-K3.
#define EXP512R \
	VMULPS      Z18, Z0, Z1; \
	VPANDD      Z19, Z1, Z2; \
	VPORD       Z20, Z2, Z2; \
	VADDPS      Z2, Z1, Z1; \
	VCVTTPS2DQ  Z1, Z1; \
	VCVTDQ2PS   Z1, Z2; \
	VMULPS      Z21, Z2, Z3; \
	VSUBPS      Z3, Z0, Z3; \
	VMULPS      Z22, Z2, Z4; \
	VSUBPS      Z4, Z3, Z3; \
	VMULPS      Z3, Z3, Z4; \
	VMULPS      Z23, Z3, Z5; \
	VADDPS      Z24, Z5, Z5; \
	VMULPS      Z3, Z5, Z5; \
	VADDPS      Z25, Z5, Z5; \
	VMULPS      Z26, Z3, Z6; \
	VADDPS      Z27, Z6, Z6; \
	VMULPS      Z3, Z6, Z6; \
	VADDPS      Z28, Z6, Z6; \
	VMULPS      Z3, Z4, Z7; \
	VMULPS      Z7, Z5, Z5; \
	VADDPS      Z6, Z5, Z5; \
	VMULPS      Z4, Z5, Z5; \
	VADDPS      Z3, Z5, Z5; \
	VADDPS      Z29, Z5, Z5; \
	VCMPPS      $0x1d, Z16, Z0, K1; \
	VCMPPS      $0x1e, Z17, Z0, K2; \
	VCMPPS      $3, Z0, Z0, K3; \
	VSCALEFPS.Z Z2, Z5, K1, Z5; \ // p·2^n in one rounding (= p·2·2^(n−1) for n = 128), 0 below lo
	VMOVAPS     Z30, K2, Z5; \
	VMOVAPS     Z0, K3, Z5

// func expSubSumAVX512(row []float32, m float32) float64
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-40
	MOVQ         row_base+0(FP), SI
	MOVQ         row_len+8(FP), CX
	VBROADCASTSS expLo<>(SB), Z16
	VBROADCASTSS expHi<>(SB), Z17
	VBROADCASTSS log2e<>(SB), Z18
	VBROADCASTSS signBit<>(SB), Z19
	VBROADCASTSS half<>(SB), Z20
	VBROADCASTSS ln2hi<>(SB), Z21
	VBROADCASTSS ln2lo<>(SB), Z22
	VBROADCASTSS expC0<>(SB), Z23
	VBROADCASTSS expC1<>(SB), Z24
	VBROADCASTSS expC2<>(SB), Z25
	VBROADCASTSS expC3<>(SB), Z26
	VBROADCASTSS expC4<>(SB), Z27
	VBROADCASTSS expC5<>(SB), Z28
	VBROADCASTSS one<>(SB), Z29
	VBROADCASTSS posInf<>(SB), Z30
	VBROADCASTSS m+24(FP), Z31
	VPXORQ       Z14, Z14, Z14
	VPXORQ       Z15, Z15, Z15

loop:
	CMPQ          CX, $16
	JB            tail
	VMOVUPS       (SI), Z0
	VSUBPS        Z31, Z0, Z0
	EXP512R
	VMOVUPS       Z5, (SI)
	VCVTPS2PD     Y5, Z6
	VEXTRACTF64X4 $1, Z5, Y7
	VCVTPS2PD     Y7, Z7
	VADDPD        Z6, Z14, Z14
	VADDPD        Z7, Z15, Z15
	ADDQ          $64, SI
	SUBQ          $16, CX
	JMP           loop

tail:
	TESTQ         CX, CX
	JZ            done
	MOVL          $1, AX
	SHLL          CX, AX
	DECL          AX
	KMOVW         AX, K4
	VMOVUPS.Z     (SI), K4, Z0
	VSUBPS        Z31, Z0, Z0
	EXP512R
	VMOVUPS       Z5, K4, (SI)
	VMOVAPS.Z     Z5, K4, Z5
	VCVTPS2PD     Y5, Z6
	VEXTRACTF64X4 $1, Z5, Y7
	VCVTPS2PD     Y7, Z7
	VADDPD        Z6, Z14, Z14
	VADDPD        Z7, Z15, Z15

done:
	VADDPD        Z15, Z14, Z14
	VEXTRACTF64X4 $1, Z14, Y15
	VADDPD        Y15, Y14, Y14
	VEXTRACTF128  $1, Y14, X15
	VADDPD        X15, X14, X14
	VUNPCKHPD     X14, X14, X15
	VADDSD        X15, X14, X14
	VMOVSD        X14, ret+32(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x []float32, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS s+24(FP), Z1

loop:
	CMPQ    CX, $16
	JB      tail
	VMULPS  (SI), Z1, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop

tail:
	TESTQ     CX, CX
	JZ        done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (SI)

done:
	VZEROUPPER
	RET

// The GELU kernels keep the erf constants in Z16-Z29, 1 in Z30 and 0.5 in Z31; the exp
// constants come from memory by broadcast.
#define GELUCONSTS512 \
	VBROADCASTSD erfMin<>(SB), Z16; \
	VBROADCASTSD erfMax<>(SB), Z17; \
	VBROADCASTSD erfP0<>(SB), Z18; \
	VBROADCASTSD erfP1<>(SB), Z19; \
	VBROADCASTSD erfP2<>(SB), Z20; \
	VBROADCASTSD erfP3<>(SB), Z21; \
	VBROADCASTSD erfP4<>(SB), Z22; \
	VBROADCASTSD erfP5<>(SB), Z23; \
	VBROADCASTSD erfP6<>(SB), Z24; \
	VBROADCASTSD erfQ0<>(SB), Z25; \
	VBROADCASTSD erfQ1<>(SB), Z26; \
	VBROADCASTSD erfQ2<>(SB), Z27; \
	VBROADCASTSD erfQ3<>(SB), Z28; \
	VBROADCASTSD erfQ4<>(SB), Z29; \
	VBROADCASTSS one<>(SB), Z30; \
	VBROADCASTSS half<>(SB), Z31

// ERF8: p = the erf32 ratio of the 8 float64 lanes of x; clobbers x, x2, q.
#define ERF8(x, x2, p, q) \
	VMAXPD Z16, x, x; \
	VMINPD Z17, x, x; \
	VMULPD x, x, x2; \
	VMULPD Z18, x2, p; \
	VADDPD Z19, p, p; \
	VMULPD x2, p, p; \
	VADDPD Z20, p, p; \
	VMULPD x2, p, p; \
	VADDPD Z21, p, p; \
	VMULPD x2, p, p; \
	VADDPD Z22, p, p; \
	VMULPD x2, p, p; \
	VADDPD Z23, p, p; \
	VMULPD x2, p, p; \
	VADDPD Z24, p, p; \
	VMULPD x, p, p; \
	VMULPD Z25, x2, q; \
	VADDPD Z26, q, q; \
	VMULPD x2, q, q; \
	VADDPD Z27, q, q; \
	VMULPD x2, q, q; \
	VADDPD Z28, q, q; \
	VMULPD x2, q, q; \
	VADDPD Z29, q, q; \
	VDIVPD q, p, p

// ERF512: Z5 = erf32(Z1); clobbers Z2-Z9, K1.
#define ERF512 \
	VCVTPS2PD     Y1, Z2; \
	VEXTRACTF64X4 $1, Z1, Y3; \
	VCVTPS2PD     Y3, Z3; \
	ERF8(Z2, Z4, Z5, Z6); \
	ERF8(Z3, Z7, Z8, Z9); \
	VCVTPD2PS     Z5, Y5; \
	VCVTPD2PS     Z8, Y8; \
	VINSERTF64X4  $1, Y8, Z5, Z5; \
	VCMPPS        $3, Z1, Z1, K1; \
	VMOVAPS       Z1, K1, Z5

// EXP512M: Z5 = exp32(Z0) with constants from memory (and Z30, Z31); clobbers Z1-Z7, K1-K3.
#define EXP512M \
	VMULPS.BCST  log2e<>(SB), Z0, Z1; \
	VPANDD.BCST  signBit<>(SB), Z1, Z2; \
	VPORD        Z31, Z2, Z2; \
	VADDPS       Z2, Z1, Z1; \
	VCVTTPS2DQ   Z1, Z1; \
	VCVTDQ2PS    Z1, Z2; \
	VMULPS.BCST  ln2hi<>(SB), Z2, Z3; \
	VSUBPS       Z3, Z0, Z3; \
	VMULPS.BCST  ln2lo<>(SB), Z2, Z4; \
	VSUBPS       Z4, Z3, Z3; \
	VMULPS       Z3, Z3, Z4; \
	VMULPS.BCST  expC0<>(SB), Z3, Z5; \
	VADDPS.BCST  expC1<>(SB), Z5, Z5; \
	VMULPS       Z3, Z5, Z5; \
	VADDPS.BCST  expC2<>(SB), Z5, Z5; \
	VMULPS.BCST  expC3<>(SB), Z3, Z6; \
	VADDPS.BCST  expC4<>(SB), Z6, Z6; \
	VMULPS       Z3, Z6, Z6; \
	VADDPS.BCST  expC5<>(SB), Z6, Z6; \
	VMULPS       Z3, Z4, Z7; \
	VMULPS       Z7, Z5, Z5; \
	VADDPS       Z6, Z5, Z5; \
	VMULPS       Z4, Z5, Z5; \
	VADDPS       Z3, Z5, Z5; \
	VADDPS       Z30, Z5, Z5; \
	VCMPPS.BCST  $0x1d, expLo<>(SB), Z0, K1; \
	VCMPPS.BCST  $0x1e, expHi<>(SB), Z0, K2; \
	VCMPPS       $3, Z0, Z0, K3; \
	VSCALEFPS.Z  Z2, Z5, K1, Z5; \
	VBROADCASTSS posInf<>(SB), K2, Z5; \
	VMOVAPS      Z0, K3, Z5

// GELUFWD512: Z6 = gelu(Z0).
#define GELUFWD512 \
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1; \
	ERF512; \
	VADDPS      Z30, Z5, Z5; \
	VMULPS      Z31, Z0, Z6; \
	VMULPS      Z5, Z6, Z6

// func geluFwdAVX512(x, y []float32)
TEXT ·geluFwdAVX512(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	GELUCONSTS512

loop:
	CMPQ    CX, $16
	JB      tail
	VMOVUPS (SI), Z0
	GELUFWD512
	VMOVUPS Z6, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     loop

tail:
	TESTQ     CX, CX
	JZ        done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K4
	VMOVUPS.Z (SI), K4, Z0
	GELUFWD512
	VMOVUPS   Z6, K4, (DI)

done:
	VZEROUPPER
	RET

// GELUBWD512: Z5 = geluGrad(x = Z10, g = Z11).
#define GELUBWD512 \
	VMULPS.BCST negHalf<>(SB), Z10, Z0; \
	VMULPS      Z10, Z0, Z0; \
	EXP512M; \
	VMULPS.BCST invSqrt2Pi<>(SB), Z5, Z12; \
	VMULPS      Z12, Z10, Z12; \
	VMULPS.BCST invSqrt2<>(SB), Z10, Z1; \
	ERF512; \
	VADDPS      Z30, Z5, Z5; \
	VMULPS      Z31, Z5, Z5; \
	VADDPS      Z12, Z5, Z5; \
	VMULPS      Z11, Z5, Z5

// func geluBwdAVX512(x, g, dx []float32)
TEXT ·geluBwdAVX512(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ g_base+24(FP), DX
	MOVQ dx_base+48(FP), DI
	GELUCONSTS512

loop:
	CMPQ    CX, $16
	JB      tail
	VMOVUPS (SI), Z10
	VMOVUPS (DX), Z11
	GELUBWD512
	VMOVUPS Z5, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     loop

tail:
	TESTQ     CX, CX
	JZ        done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K4
	VMOVUPS.Z (SI), K4, Z10
	VMOVUPS.Z (DX), K4, Z11
	GELUBWD512
	VMOVUPS   Z5, K4, (DI)

done:
	VZEROUPPER
	RET
