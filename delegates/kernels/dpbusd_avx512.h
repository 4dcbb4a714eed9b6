// vpdpbusd as inline asm that updates its accumulator in place. Include only
// from code built for x86-64 with GCC; callers carry the same target.
//
// Why not the intrinsic: in register tiles (many accumulators live across a
// loop) GCC 12 gave the intrinsic's result a new register and copied it back
// each step, a vmovdqa per vpdpbusd or more (29 per 16 in the 8 x 2 conv
// tile), and spilled operands to the stack. The "+v" operand keeps each
// accumulator in one register for the whole loop.
#ifndef TFQ_DELEGATES_KERNELS_DPBUSD_AVX512_H_
#define TFQ_DELEGATES_KERNELS_DPBUSD_AVX512_H_

#include <immintrin.h>

namespace tfq {
namespace kernels {

// acc + the sums of 4 products u * s per int32 lane: `unsigned_bytes` as
// uint8, `signed_bytes` as int8 (_mm512_dpbusd_epi32(acc, u, s)).
__attribute__((target("avx512f,avx512vnni"))) inline __m512i DpbusdInPlace(
    __m512i acc, __m512i unsigned_bytes, __m512i signed_bytes) {
  asm("vpdpbusd %[s], %[u], %[acc]"
      : [acc] "+v"(acc)
      : [u] "v"(unsigned_bytes), [s] "v"(signed_bytes));
  return acc;
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DPBUSD_AVX512_H_
