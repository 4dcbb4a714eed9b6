#include "delegates/kernels/add_sub.h"

#include <algorithm>
#include <cmath>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#endif

namespace tfq {
namespace kernels {
namespace {

// out[i] = pairs[(uint8_t)in1[i] * 256 + (uint8_t)in2[i]] for i in [begin, end).
using PairLookupFn = void (*)(const int8_t* pairs, const int8_t* in1, const int8_t* in2,
                              int8_t* out, int64_t begin, int64_t end);

void PairLookupPortable(const int8_t* pairs, const int8_t* in1, const int8_t* in2, int8_t* out,
                        int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    out[i] = pairs[static_cast<uint8_t>(in1[i]) * 256 + static_cast<uint8_t>(in2[i])];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// 16 elements per step: the pair index from both bytes, one gather of 4
// bytes at it (the table has 3 spare bytes at the end), the low byte kept.
__attribute__((target("avx512f,avx512bw"))) void PairLookupAvx512(const int8_t* pairs,
                                                                  const int8_t* in1,
                                                                  const int8_t* in2, int8_t* out,
                                                                  int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512i first =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in1 + i)));
    const __m512i second =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in2 + i)));
    const __m512i index = _mm512_or_si512(_mm512_slli_epi32(first, 8), second);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm512_cvtepi32_epi8(_mm512_i32gather_epi32(index, pairs, 1)));
  }
  PairLookupPortable(pairs, in1, in2, out, i, end);
}

// The same on AVX2: two gathers of 8 per 16 elements, their low bytes
// picked by a byte shuffle within each 128-bit half and joined.
__attribute__((target("avx2"))) void PairLookupAvx2(const int8_t* pairs, const int8_t* in1,
                                                    const int8_t* in2, int8_t* out,
                                                    int64_t begin, int64_t end) {
  const int* table = reinterpret_cast<const int*>(pairs);
  // Byte 0 of each dword to bytes 0-3 of its half; the rest zeroed.
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, -1, -1, -1);
  const __m256i halves = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in1 + i));
    const __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in2 + i));
    const __m256i index_low = _mm256_or_si256(_mm256_slli_epi32(_mm256_cvtepu8_epi32(first), 8),
                                              _mm256_cvtepu8_epi32(second));
    const __m256i index_high =
        _mm256_or_si256(_mm256_slli_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(first, 8)), 8),
                        _mm256_cvtepu8_epi32(_mm_srli_si128(second, 8)));
    const __m256i low = _mm256_shuffle_epi8(_mm256_i32gather_epi32(table, index_low, 1), low_bytes);
    const __m256i high =
        _mm256_shuffle_epi8(_mm256_i32gather_epi32(table, index_high, 1), low_bytes);
    // Dwords: low's 4 bytes of elements 0-3 at 0, 4-7 at 4; high's at 1, 5.
    const __m256i joined = _mm256_permutevar8x32_epi32(
        _mm256_or_si256(low, _mm256_slli_epi64(high, 32)), halves);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(joined));
  }
  PairLookupPortable(pairs, in1, in2, out, i, end);
}
#endif

using FloatPath = AddSubInt8Optimized::FloatPath;

// One pair on the float path, as the vector code computes it (std::fma is
// the FMA instruction's single rounding; nearbyint rounds to nearest even,
// as vroundscaleps does): floor(Y), unclamped, and whether Y is within the
// window of an integer.
int32_t FloatPathOne(const FloatPath& p, int8_t q1, int8_t q2, bool* near) {
  float y = std::fma(static_cast<float>(q1), p.a1, p.d);
  y = std::fma(static_cast<float>(q2), p.a2, y);
  const float rounded = y + (y >= 0.0f ? p.c_nonnegative : p.c_negative);
  *near = std::fabs(rounded - std::nearbyint(rounded)) < p.window;
  return static_cast<int32_t>(std::floor(rounded));
}

double RealMultiplier(QuantizedMultiplier m) {
  return m.significand * std::ldexp(1.0, m.shift - 31);
}

// The float path's constants, and whether it is exact for every pair.
//
// With m1, m2, m_out the three multipliers (as QuantizeMultiplier holds
// them) and L the left shift, the reference's output before its zero point
// is floor(y + 1/2 + lean) where its output rescale's Q31 product is >= 0,
// floor(y + 1/2 - lean) where it is negative (MultiplyByQuantizedMultiplier's
// two roundings as one floor, fixed_point_avx512.h), lean = 2^-(r+1) for a
// right shift r >= 1, else 0, and y = (v1 +- v2) m_out with v_i the
// inputs' integer rescales of (q_i - zp_i) 2^L by m_i. Each v_i is within
// 1.125 of its real value (two roundings, a 31-bit significand), so y is
// within 2.25 m_out of (q1 - zp1) a1 + (q2 - zp2) a2, a_i = 2^L m_i m_out;
// y's sign picks the lean right wherever it matters (|y| near a half).
// Float rounding adds at most 6 B 2^-24, B bounding every intermediate.
// The window is twice the sum; every pair is then checked against the
// table, so the path is taken only where it is exact.
FloatPath MakeFloatPath(const AddSubQuantization& q, const std::vector<int8_t>& pairs) {
  FloatPath p;
  const double m_out = RealMultiplier(q.output_multiplier);
  const double a1 = std::ldexp(1.0, q.left_shift) * RealMultiplier(q.input1_multiplier) * m_out;
  const double a2 = (q.subtract ? -1.0 : 1.0) * std::ldexp(1.0, q.left_shift) *
                    RealMultiplier(q.input2_multiplier) * m_out;
  const int right_shift = q.output_multiplier.shift < 0 ? -q.output_multiplier.shift : 0;
  const double lean = right_shift >= 1 ? std::ldexp(1.0, -(right_shift + 1)) : 0.0;
  p.a1 = static_cast<float>(a1);
  p.a2 = static_cast<float>(a2);
  p.d = static_cast<float>(-q.input1_zero_point * a1 - q.input2_zero_point * a2);
  p.c_nonnegative = static_cast<float>(0.5 + lean + q.output_zero_point);
  p.c_negative = static_cast<float>(0.5 - lean + q.output_zero_point);
  const double bound = 256.0 * (std::fabs(a1) + std::fabs(a2)) + 130.0;
  p.window = static_cast<float>(2.0 * (2.25 * m_out + 6.0 * bound * std::ldexp(1.0, -24)) +
                                std::ldexp(1.0, -20));
  if (q.output_multiplier.shift > 0 || bound > std::ldexp(1.0, 22) || p.window > 1.0 / 64) {
    return p;  // outside the derivation (or too coarse to pay): the table alone
  }
  for (int first = -128; first <= 127; ++first) {
    for (int second = -128; second <= 127; ++second) {
      bool near = false;
      const int32_t value = FloatPathOne(p, static_cast<int8_t>(first),
                                         static_cast<int8_t>(second), &near);
      const int32_t clamped = std::min(std::max(value, q.output_min), q.output_max);
      p.pairs_in_window += near;
      if (!near && clamped != pairs[static_cast<uint8_t>(first) * 256 +
                                    static_cast<uint8_t>(second)]) {
        return p;
      }
    }
  }
  p.exact = true;
  return p;
}

using FloatPathFn = void (*)(const FloatPath& p, int32_t low, int32_t high, const int8_t* pairs,
                             const int8_t* in1, const int8_t* in2, int8_t* out, int64_t begin,
                             int64_t end);

#if defined(__x86_64__) && defined(__GNUC__)
// 16 elements per step, as FloatPathOne; a step with an element inside the
// window redoes its 16 from the table.
__attribute__((target("avx512f,avx512bw"))) void FloatPathAvx512(
    const FloatPath& p, int32_t low, int32_t high, const int8_t* pairs, const int8_t* in1,
    const int8_t* in2, int8_t* out, int64_t begin, int64_t end) {
  const __m512 a1 = _mm512_set1_ps(p.a1), a2 = _mm512_set1_ps(p.a2), d = _mm512_set1_ps(p.d);
  const __m512 c_nonnegative = _mm512_set1_ps(p.c_nonnegative);
  const __m512 c_negative = _mm512_set1_ps(p.c_negative);
  const __m512 window = _mm512_set1_ps(p.window), zero = _mm512_setzero_ps();
  const __m512i low_lanes = _mm512_set1_epi32(low), high_lanes = _mm512_set1_epi32(high);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512 x1 = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in1 + i))));
    const __m512 x2 = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in2 + i))));
    const __m512 y = _mm512_fmadd_ps(x2, a2, _mm512_fmadd_ps(x1, a1, d));
    const __mmask16 nonnegative = _mm512_cmp_ps_mask(y, zero, _CMP_GE_OQ);
    const __m512 rounded =
        _mm512_add_ps(y, _mm512_mask_blend_ps(nonnegative, c_negative, c_nonnegative));
    const __m512 nearest =
        _mm512_roundscale_ps(rounded, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 near =
        _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(rounded, nearest)), window, _CMP_LT_OQ);
    __m512i value = _mm512_cvt_roundps_epi32(rounded, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    value = _mm512_min_epi32(_mm512_max_epi32(value, low_lanes), high_lanes);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(value));
    if (near != 0) PairLookupPortable(pairs, in1, in2, out, i, i + 16);
  }
  PairLookupPortable(pairs, in1, in2, out, i, end);
}

// The same on AVX2 (with FMA3), 8 lanes per half of a 16-element step; the
// two halves packed to bytes as PairLookupAvx2 joins its gathers.
__attribute__((target("avx2,fma"))) __m256i FloatPathX8Avx2(const FloatPath& p, const int8_t* in1,
                                                            const int8_t* in2, int* near) {
  const __m256 x1 = _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in1))));
  const __m256 x2 = _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in2))));
  const __m256 y = _mm256_fmadd_ps(x2, _mm256_set1_ps(p.a2),
                                   _mm256_fmadd_ps(x1, _mm256_set1_ps(p.a1), _mm256_set1_ps(p.d)));
  const __m256 nonnegative = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GE_OQ);
  const __m256 rounded = _mm256_add_ps(
      y, _mm256_blendv_ps(_mm256_set1_ps(p.c_negative), _mm256_set1_ps(p.c_nonnegative),
                          nonnegative));
  const __m256 distance = _mm256_andnot_ps(
      _mm256_set1_ps(-0.0f),
      _mm256_sub_ps(rounded, _mm256_round_ps(rounded, _MM_FROUND_TO_NEAREST_INT |
                                                          _MM_FROUND_NO_EXC)));
  *near |= _mm256_movemask_ps(_mm256_cmp_ps(distance, _mm256_set1_ps(p.window), _CMP_LT_OQ));
  return _mm256_cvttps_epi32(_mm256_floor_ps(rounded));
}

__attribute__((target("avx2,fma"))) void FloatPathAvx2(const FloatPath& p, int32_t low,
                                                       int32_t high, const int8_t* pairs,
                                                       const int8_t* in1, const int8_t* in2,
                                                       int8_t* out, int64_t begin, int64_t end) {
  const __m256i low_lanes = _mm256_set1_epi32(low), high_lanes = _mm256_set1_epi32(high);
  const __m256i halves = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    int near = 0;
    const __m256i first = _mm256_min_epi32(
        _mm256_max_epi32(FloatPathX8Avx2(p, in1 + i, in2 + i, &near), low_lanes), high_lanes);
    const __m256i second = _mm256_min_epi32(
        _mm256_max_epi32(FloatPathX8Avx2(p, in1 + i + 8, in2 + i + 8, &near), low_lanes),
        high_lanes);
    // Bytes 0-3 | 8-11 | 4-7 | 12-15 in the dwords 0, 1, 4, 5 after the packs.
    const __m256i words = _mm256_packs_epi32(first, second);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words), halves);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(bytes));
    if (near != 0) PairLookupPortable(pairs, in1, in2, out, i, i + 16);
  }
  PairLookupPortable(pairs, in1, in2, out, i, end);
}
#endif

FloatPathFn ChooseFloatPath() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) {
    return &FloatPathAvx512;
  }
  // Every AVX2 CPU tfq has met has FMA3; the check keeps one without it
  // on the table.
  if (GetCpuFeatures().avx2 && __builtin_cpu_supports("fma")) {
    return &FloatPathAvx2;
  }
#endif
  return nullptr;
}

PairLookupFn ChoosePairLookup() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) {
    return &PairLookupAvx512;
  }
  if (GetCpuFeatures().avx2) {
    return &PairLookupAvx2;
  }
#endif
  return &PairLookupPortable;
}

// One element: |q - zp| <= 255 (int8, shift 20) or <= 32768 (int16, shift
// 15), so the shifted values stay below 2^31.
template <typename T>
T AddSubOne(const AddSubQuantization& q, T value1, T value2) {
  const int32_t shifted1 = (value1 - q.input1_zero_point) * (1 << q.left_shift);
  const int32_t shifted2 = (value2 - q.input2_zero_point) * (1 << q.left_shift);
  const int32_t scaled1 = MultiplyByQuantizedMultiplier(shifted1, q.input1_multiplier);
  const int32_t scaled2 = MultiplyByQuantizedMultiplier(shifted2, q.input2_multiplier);
  const int32_t raw = q.subtract ? scaled1 - scaled2 : scaled1 + scaled2;
  const int32_t value =
      MultiplyByQuantizedMultiplier(raw, q.output_multiplier) + q.output_zero_point;
  return static_cast<T>(std::min(std::max(value, q.output_min), q.output_max));
}

template <typename T>
void AddSubReference(const AddSubQuantization& q, const BroadcastShape& shape, const T* input1,
                     const T* input2, T* output) {
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    output[out] = AddSubOne(q, input1[index1], input2[index2]);
  });
}

using AddSubInt16ContiguousFn = void (*)(const AddSubQuantization&, const int16_t*,
                                         const int16_t*, int16_t*, int64_t, int64_t);

void AddSubInt16ContiguousPortable(const AddSubQuantization& q, const int16_t* input1,
                                   const int16_t* input2, int16_t* output, int64_t begin,
                                   int64_t end) {
  for (int64_t i = begin; i < end; ++i) output[i] = AddSubOne(q, input1[i], input2[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
struct MultiplierLanes {
  __m512i significand, left, right;
};

__attribute__((target("avx512f,avx512bw"))) MultiplierLanes LanesOf(QuantizedMultiplier m) {
  return {_mm512_set1_epi32(m.significand), _mm512_set1_epi32(m.shift > 0 ? m.shift : 0),
          _mm512_set1_epi32(m.shift > 0 ? 0 : -m.shift)};
}

// 16 elements at a time: the three rescales of the reference on int32 lanes.
__attribute__((target("avx512f,avx512bw"))) void AddSubInt16ContiguousAvx512(
    const AddSubQuantization& q, const int16_t* input1, const int16_t* input2, int16_t* output,
    int64_t begin, int64_t end) {
  const MultiplierLanes m1 = LanesOf(q.input1_multiplier), m2 = LanesOf(q.input2_multiplier);
  const MultiplierLanes out = LanesOf(q.output_multiplier);
  const __m512i zero_point1 = _mm512_set1_epi32(q.input1_zero_point);
  const __m512i zero_point2 = _mm512_set1_epi32(q.input2_zero_point);
  const __m512i output_zero_point = _mm512_set1_epi32(q.output_zero_point);
  const __m512i low = _mm512_set1_epi32(q.output_min), high = _mm512_set1_epi32(q.output_max);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512i x1 = _mm512_cvtepi16_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input1 + i)));
    const __m512i x2 = _mm512_cvtepi16_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(input2 + i)));
    const __m512i scaled1 = MultiplyByQuantizedMultiplierX16(
        _mm512_slli_epi32(_mm512_sub_epi32(x1, zero_point1), q.left_shift), m1.significand,
        m1.left, m1.right);
    const __m512i scaled2 = MultiplyByQuantizedMultiplierX16(
        _mm512_slli_epi32(_mm512_sub_epi32(x2, zero_point2), q.left_shift), m2.significand,
        m2.left, m2.right);
    const __m512i raw = q.subtract ? _mm512_sub_epi32(scaled1, scaled2)
                                   : _mm512_add_epi32(scaled1, scaled2);
    __m512i value =
        MultiplyByQuantizedMultiplierX16(raw, out.significand, out.left, out.right);
    value = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(value, output_zero_point), low),
                             high);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output + i), _mm512_cvtepi32_epi16(value));
  }
  AddSubInt16ContiguousPortable(q, input1, input2, output, i, end);
}
#endif

AddSubInt16ContiguousFn ChooseAddSubInt16Contiguous() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) {
    return &AddSubInt16ContiguousAvx512;
  }
#endif
  return &AddSubInt16ContiguousPortable;
}

}  // namespace

void AddSubInt8Reference(const AddSubQuantization& q, const BroadcastShape& shape,
                         const int8_t* input1, const int8_t* input2, int8_t* output) {
  AddSubReference(q, shape, input1, input2, output);
}

void AddSubInt16Reference(const AddSubQuantization& q, const BroadcastShape& shape,
                          const int16_t* input1, const int16_t* input2, int16_t* output) {
  AddSubReference(q, shape, input1, input2, output);
}

void AddSubInt16Contiguous(const AddSubQuantization& q, const int16_t* input1,
                           const int16_t* input2, int16_t* output, int64_t begin, int64_t end) {
  static const AddSubInt16ContiguousFn chosen = ChooseAddSubInt16Contiguous();  // once
  chosen(q, input1, input2, output, begin, end);
}

AddSubInt8Optimized::AddSubInt8Optimized(const AddSubQuantization& q)
    : quantization_(q), pairs_(kPairTableBytes) {
  // Every output, from the reference's own arithmetic on each pair of bytes.
  for (int first = -128; first <= 127; ++first) {
    for (int second = -128; second <= 127; ++second) {
      pairs_[static_cast<uint8_t>(first) * 256 + static_cast<uint8_t>(second)] =
          AddSubOne<int8_t>(q, static_cast<int8_t>(first), static_cast<int8_t>(second));
    }
  }
  // The path is fixed per process (the ISA cap is), so `exact` implies it.
  if (ChooseFloatPath() != nullptr) float_path_ = MakeFloatPath(q, pairs_);
}

void AddSubInt8Optimized::RunContiguous(const int8_t* input1, const int8_t* input2,
                                        int8_t* output, int64_t begin, int64_t end) const {
  static const FloatPathFn float_path = ChooseFloatPath();     // once per process
  static const PairLookupFn pair_lookup = ChoosePairLookup();  // once per process
  if (float_path_.exact) {
    float_path(float_path_, quantization_.output_min, quantization_.output_max, pairs_.data(),
               input1, input2, output, begin, end);
    return;
  }
  pair_lookup(pairs_.data(), input1, input2, output, begin, end);
}

void AddSubInt8Optimized::Run(const BroadcastShape& shape, const int8_t* input1,
                              const int8_t* input2, int8_t* output) const {
  if (IsContiguous(shape)) {
    RunContiguous(input1, input2, output, 0, shape.elements());
    return;
  }
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    PairLookupPortable(pairs_.data(), input1 + index1, input2 + index2, output + out, 0, 1);
  });
}

}  // namespace kernels
}  // namespace tfq
