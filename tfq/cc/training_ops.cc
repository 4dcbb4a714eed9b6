// TensorFlow CPU kernels for tfq's QAT training steps and calibration passes
// (loaded by tfq/training_ops.py; built by setup.py against the installed
// TensorFlow).
//
// A QAT step fake-quantizes every activation TFLite will hold, about three
// times as many tensors as a float model has activations. TF's stock ops for
// that cost more passes over memory than the step needs:
//   - the batch range is reduce_min + reduce_max: two passes, each slower on
//     CPU than a vectorized min/max (TfqBatchRange: one pass);
//   - FakeQuantWithMinMaxVarsGradient computes d/dmin and d/dmax as well as
//     d/dinput: three passes. tfq's ranges are moving averages, never trained,
//     so only d/dinput is wanted (TfqFakeQuantGradient: one pass);
//   - FakeQuantWithMinMaxVars runs at AVX width in TF's build (TfqFakeQuant:
//     the same arithmetic on AVX-512).
// Calibration (tfq.calibrate) histograms every activation of every batch:
//   - TfqHistogram is HistogramFixedWidth plus the count of exact zeros in one
//     vectorized pass; the stock op computes its bins in scalar Eigen code and
//     the zeros cost another pass.
// All are exact: the fake-quant kernels give the stock ops' values, using TF's
// own Nudge from its installed header, TfqBatchRange equals
// reduce_min/reduce_max (NaN propagates; an empty tensor gives +inf, -inf),
// and TfqHistogram gives HistogramFixedWidth's bins.

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/fake_quant_ops_functor.h"
#include "tensorflow/core/util/work_sharder.h"

namespace tfq_training {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Status;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::shape_inference::InferenceContext;

// Elements per work unit: 64 KiB of floats, enough to hide the sharding cost.
constexpr int64_t kBlock = 16384;

// Runs body(start, stop) over [0, count) in kBlock pieces on TF's CPU threads.
template <typename Body>
void ForEachBlock(OpKernelContext* context, int64_t count, const Body& body) {
  const auto* workers = context->device()->tensorflow_cpu_worker_threads();
  tensorflow::Shard(workers->num_threads, workers->workers, (count + kBlock - 1) / kBlock,
                    kBlock, [&](int64_t begin, int64_t end) {
                      body(begin * kBlock, std::min(end * kBlock, count));
                    });
}

// -- batch range ------------------------------------------------------------

struct Range {
  float low = std::numeric_limits<float>::infinity();
  float high = -std::numeric_limits<float>::infinity();
  bool nan = false;

  void Merge(const Range& other) {
    low = std::min(low, other.low);
    high = std::max(high, other.high);
    nan = nan || other.nan;
  }
};

Range RangeOfPortable(const float* values, int64_t count) {
  Range range;
  for (int64_t i = 0; i < count; ++i) {
    range.low = std::min(range.low, values[i]);
    range.high = std::max(range.high, values[i]);
    range.nan = range.nan || std::isnan(values[i]);
  }
  return range;
}

#if defined(__x86_64__)
// Two independent accumulators per end hide the min/max latency; a NaN is
// caught by the unordered compare (min/max instructions would drop it).
__attribute__((target("avx512f"))) Range RangeOfAvx512(const float* values,
                                                       int64_t count) {
  __m512 low0 = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 low1 = low0;
  __m512 high0 = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 high1 = high0;
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512 a = _mm512_loadu_ps(values + i);
    const __m512 b = _mm512_loadu_ps(values + i + 16);
    low0 = _mm512_min_ps(low0, a);
    high0 = _mm512_max_ps(high0, a);
    low1 = _mm512_min_ps(low1, b);
    high1 = _mm512_max_ps(high1, b);
    nan |= _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
  }
  Range range = RangeOfPortable(values + i, count - i);
  range.low = std::min(range.low, _mm512_reduce_min_ps(_mm512_min_ps(low0, low1)));
  range.high = std::max(range.high, _mm512_reduce_max_ps(_mm512_max_ps(high0, high1)));
  range.nan = range.nan || nan != 0;
  return range;
}
#endif

Range RangeOf(const float* values, int64_t count) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return RangeOfAvx512(values, count);
#endif
  return RangeOfPortable(values, count);
}

class BatchRangeOp : public OpKernel {
 public:
  using OpKernel::OpKernel;

  void Compute(OpKernelContext* context) override {
    const Tensor& values = context->input(0);
    const float* data = values.flat<float>().data();
    const int64_t count = values.NumElements();
    const int64_t blocks = (count + kBlock - 1) / kBlock;
    std::vector<Range> partial(blocks);
    ForEachBlock(context, count, [&](int64_t start, int64_t stop) {
      for (int64_t b = start / kBlock; b * kBlock < stop; ++b) {
        partial[b] = RangeOf(data + b * kBlock, std::min(kBlock, count - b * kBlock));
      }
    });
    Range range;
    for (const Range& block : partial) range.Merge(block);
    Tensor* low = nullptr;
    Tensor* high = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({}), &low));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({}), &high));
    low->scalar<float>()() = range.nan ? std::numeric_limits<float>::quiet_NaN() : range.low;
    high->scalar<float>()() = range.nan ? std::numeric_limits<float>::quiet_NaN() : range.high;
  }
};

// -- FakeQuantWithMinMaxVars, forward --------------------------------------

// The stock functor's arithmetic, step by step in the same order (the build
// has -ffp-contract=off, so no step fuses): clamp to the nudged range, shift,
// divide by the scale, round half up around the zero point, scale back.
struct FakeQuantStep {
  float nudged_min, nudged_max, scale, quant_zero;
};

void FakeQuantPortable(const float* inputs, const FakeQuantStep& step, float* outputs,
                       int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float clamped = std::max(std::min(inputs[i], step.nudged_max), step.nudged_min);
    const float level = std::floor((clamped - step.nudged_min) / step.scale - step.quant_zero +
                                   0.5f);
    outputs[i] = level * step.scale;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void FakeQuantAvx512(const float* inputs,
                                                        const FakeQuantStep& step,
                                                        float* outputs, int64_t count) {
  const __m512 low = _mm512_set1_ps(step.nudged_min);
  const __m512 high = _mm512_set1_ps(step.nudged_max);
  const __m512 scale = _mm512_set1_ps(step.scale);
  const __m512 quant_zero = _mm512_set1_ps(step.quant_zero);
  const __m512 half = _mm512_set1_ps(0.5f);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 clamped = _mm512_max_ps(_mm512_min_ps(_mm512_loadu_ps(inputs + i), high), low);
    __m512 level = _mm512_div_ps(_mm512_sub_ps(clamped, low), scale);
    level = _mm512_add_ps(_mm512_sub_ps(level, quant_zero), half);
    level = _mm512_roundscale_ps(level, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    _mm512_storeu_ps(outputs + i, _mm512_mul_ps(level, scale));
  }
  FakeQuantPortable(inputs + i, step, outputs + i, count - i);
}
#endif

void FakeQuant(const float* inputs, const FakeQuantStep& step, float* outputs, int64_t count) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return FakeQuantAvx512(inputs, step, outputs, count);
#endif
  FakeQuantPortable(inputs, step, outputs, count);
}

// Reads and checks the num_bits / narrow_range attributes of both fake-quant ops.
Status ReadQuantRange(OpKernelConstruction* context, const char* op, int* quant_min,
                      int* quant_max) {
  int num_bits = 0;
  bool narrow_range = false;
  TF_RETURN_IF_ERROR(context->GetAttr("num_bits", &num_bits));
  TF_RETURN_IF_ERROR(context->GetAttr("narrow_range", &narrow_range));
  if (num_bits < 2 || num_bits > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": num_bits must be in [2, 16], got ", num_bits));
  }
  *quant_min = narrow_range ? 1 : 0;
  *quant_max = (1 << num_bits) - 1;
  return absl::OkStatus();
}

// Reads the scalar min and max inputs (2 and 3 for the gradient, 1 and 2 for
// the forward op); min <= max, as the stock ops require.
Status ReadRange(OpKernelContext* context, const char* op, int first_input, float* min,
                 float* max) {
  const Tensor& min_tensor = context->input(first_input);
  const Tensor& max_tensor = context->input(first_input + 1);
  if (min_tensor.dims() != 0 || max_tensor.dims() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": min and max must be scalars"));
  }
  *min = min_tensor.scalar<float>()();
  *max = max_tensor.scalar<float>()();
  if (!(*min <= *max)) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": min ", *min, " is above max ", *max));
  }
  return absl::OkStatus();
}

class FakeQuantOp : public OpKernel {
 public:
  explicit FakeQuantOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, ReadQuantRange(context, "TfqFakeQuant", &quant_min_, &quant_max_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);
    float min = 0.0f, max = 0.0f;
    OP_REQUIRES_OK(context, ReadRange(context, "TfqFakeQuant", 1, &min, &max));
    Tensor* outputs = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, inputs.shape(), &outputs));
    const int64_t count = inputs.NumElements();
    float* output_data = outputs->flat<float>().data();
    if (min == 0.0f && max == 0.0f) {  // the stock op's zero range: all zeros
      std::fill(output_data, output_data + count, 0.0f);
      return;
    }
    FakeQuantStep step;
    float inverse_scale = 0.0f;
    tensorflow::Nudge(min, max, quant_min_, quant_max_, &step.nudged_min, &step.nudged_max,
                      &step.scale, &inverse_scale);
    step.quant_zero = std::floor(-step.nudged_min * inverse_scale + 0.5f);
    const float* input_data = inputs.flat<float>().data();
    ForEachBlock(context, count, [&](int64_t start, int64_t stop) {
      FakeQuant(input_data + start, step, output_data + start, stop - start);
    });
  }

 private:
  int quant_min_ = 0;
  int quant_max_ = 0;
};

// -- straight-through gradient of FakeQuantWithMinMaxVars --------------------

void MaskGradientPortable(const float* gradients, const float* inputs, float low,
                          float high, float* backprops, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    backprops[i] = (inputs[i] >= low && inputs[i] <= high) ? gradients[i] : 0.0f;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void MaskGradientAvx512(
    const float* gradients, const float* inputs, float low, float high,
    float* backprops, int64_t count) {
  const __m512 lows = _mm512_set1_ps(low);
  const __m512 highs = _mm512_set1_ps(high);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 x = _mm512_loadu_ps(inputs + i);
    // Ordered compares: a NaN input is outside the range, as in the stock op.
    const __mmask16 inside = _mm512_cmp_ps_mask(x, lows, _CMP_GE_OQ) &
                             _mm512_cmp_ps_mask(x, highs, _CMP_LE_OQ);
    _mm512_storeu_ps(backprops + i, _mm512_maskz_loadu_ps(inside, gradients + i));
  }
  MaskGradientPortable(gradients + i, inputs + i, low, high, backprops + i, count - i);
}
#endif

void MaskGradient(const float* gradients, const float* inputs, float low, float high,
                  float* backprops, int64_t count) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return MaskGradientAvx512(gradients, inputs, low, high, backprops, count);
#endif
  MaskGradientPortable(gradients, inputs, low, high, backprops, count);
}

class FakeQuantGradientOp : public OpKernel {
 public:
  explicit FakeQuantGradientOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context,
                   ReadQuantRange(context, "TfqFakeQuantGradient", &quant_min_, &quant_max_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& gradients = context->input(0);
    const Tensor& inputs = context->input(1);
    OP_REQUIRES(context, gradients.shape() == inputs.shape(),
                absl::InvalidArgumentError(absl::StrCat(
                    "TfqFakeQuantGradient: gradients ", gradients.shape().DebugString(),
                    " and inputs ", inputs.shape().DebugString(), " differ in shape")));
    float min_value = 0.0f, max_value = 0.0f;
    OP_REQUIRES_OK(context, ReadRange(context, "TfqFakeQuantGradient", 2, &min_value, &max_value));
    Tensor* backprops = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, inputs.shape(), &backprops));
    const int64_t count = inputs.NumElements();
    const float* gradient_data = gradients.flat<float>().data();
    const float* input_data = inputs.flat<float>().data();
    float* output = backprops->flat<float>().data();
    float low = 0.0f, high = 0.0f;
    // The stock op passes every gradient through for the range [0, 0].
    const bool pass_all = min_value == 0.0f && max_value == 0.0f;
    if (!pass_all) {
      float scale = 0.0f, inverse_scale = 0.0f;
      tensorflow::Nudge(min_value, max_value, quant_min_, quant_max_, &low, &high, &scale,
                        &inverse_scale);
    }
    ForEachBlock(context, count, [&](int64_t start, int64_t stop) {
      if (!pass_all) {
        MaskGradient(gradient_data + start, input_data + start, low, high, output + start,
                     stop - start);
      } else if (output != gradient_data) {
        std::copy(gradient_data + start, gradient_data + stop, output + start);
      }
    });
  }

 private:
  int quant_min_ = 0;
  int quant_max_ = 0;
};

// -- histogram --------------------------------------------------------------

// HistogramFixedWidth's bin of a value, as its CPU kernel computes it (the
// formula checked against the op, edges included, by tests/test_training_ops.py):
// the offset from the low end in double, divided by the bin width, capped at
// the last bin, truncated. A NaN (which the op's callers keep out) lands in
// bin 0, as in the AVX-512 path (vmaxpd returns its second operand), never
// out of bounds.
struct HistogramBins {
  double low;
  double width;
  double last_bin;
  int32_t Of(float value) const {
    const double widened = value;
    const double position = ((widened > low ? widened : low) - low) / width;
    return static_cast<int32_t>(std::min(position, last_bin));
  }
};

// Counts into `counts` (4 interleaved copies of the bins, so that a run of
// equal values, e.g. a ReLU's zeros, does not serialize on one counter);
// returns the number of exact zeros.
int64_t CountBinsPortable(const float* values, int64_t count, const HistogramBins& bins,
                          int64_t nbins, int64_t* counts) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < count; ++i) {
    ++counts[(i & 3) * nbins + bins.Of(values[i])];
    zeros += values[i] == 0.0f;
  }
  return zeros;
}

#if defined(__x86_64__)
// 16 values at a time, 8 per double vector: the same subtraction and division
// (IEEE, correctly rounded either way), min and truncation.
__attribute__((target("avx512f"))) int64_t CountBinsAvx512(const float* values,
                                                           int64_t count,
                                                           const HistogramBins& bins,
                                                           int64_t nbins, int64_t* counts) {
  const __m512d low = _mm512_set1_pd(bins.low);
  const __m512d width = _mm512_set1_pd(bins.width);
  const __m512d last_bin = _mm512_set1_pd(bins.last_bin);
  const __m512 zero = _mm512_setzero_ps();
  alignas(64) int32_t index[16];
  int64_t zeros = 0;
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 x = _mm512_loadu_ps(values + i);
    zeros += __builtin_popcount(_mm512_cmp_ps_mask(x, zero, _CMP_EQ_OQ));
    const __m512d first = _mm512_sub_pd(
        _mm512_max_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), low), low);
    const __m512d second = _mm512_sub_pd(_mm512_max_pd(_mm512_cvtps_pd(_mm256_castpd_ps(
        _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))), low), low);
    _mm256_store_si256(reinterpret_cast<__m256i*>(index), _mm512_cvttpd_epi32(
        _mm512_min_pd(_mm512_div_pd(first, width), last_bin)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(index + 8), _mm512_cvttpd_epi32(
        _mm512_min_pd(_mm512_div_pd(second, width), last_bin)));
    for (int j = 0; j < 16; ++j) ++counts[(j & 3) * nbins + index[j]];
  }
  return zeros + CountBinsPortable(values + i, count - i, bins, nbins, counts);
}
#endif

int64_t CountBins(const float* values, int64_t count, const HistogramBins& bins,
                  int64_t nbins, int64_t* counts) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return CountBinsAvx512(values, count, bins, nbins, counts);
#endif
  return CountBinsPortable(values, count, bins, nbins, counts);
}

class HistogramOp : public OpKernel {
 public:
  explicit HistogramOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("nbins", &nbins_));
    OP_REQUIRES(context, nbins_ > 0,
                tensorflow::errors::InvalidArgument("TfqHistogram: nbins must be > 0, got ",
                                                    nbins_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& values = context->input(0);
    const Tensor& value_range = context->input(1);
    OP_REQUIRES(context, value_range.NumElements() == 2,
                tensorflow::errors::InvalidArgument(
                    "TfqHistogram: value_range must hold 2 values, got ",
                    value_range.NumElements()));
    const float low = value_range.flat<float>()(0);
    const float high = value_range.flat<float>()(1);
    OP_REQUIRES(context, low < high,
                tensorflow::errors::InvalidArgument(
                    "TfqHistogram: value_range must be increasing, got [", low, ", ", high, "]"));
    const HistogramBins bins{static_cast<double>(low),
                             static_cast<double>(high - low) / static_cast<double>(nbins_),
                             static_cast<double>(nbins_ - 1)};
    const float* data = values.flat<float>().data();
    const int64_t count = values.NumElements();
    // One piece per worker, at least kPiece values each: every piece keeps
    // its own counters, merged below.
    constexpr int64_t kPiece = 1 << 17;
    const auto* workers = context->device()->tensorflow_cpu_worker_threads();
    const int64_t pieces = std::max<int64_t>(
        1, std::min<int64_t>(workers->num_threads, count / kPiece));
    std::vector<int64_t> counts(pieces * 4 * nbins_, 0);
    std::vector<int64_t> zeros(pieces, 0);
    tensorflow::Shard(pieces, workers->workers, pieces, count / pieces * 8,
                      [&](int64_t begin, int64_t end) {
                        for (int64_t piece = begin; piece < end; ++piece) {
                          const int64_t start = count * piece / pieces;
                          const int64_t stop = count * (piece + 1) / pieces;
                          zeros[piece] = CountBins(data + start, stop - start, bins, nbins_,
                                                   counts.data() + piece * 4 * nbins_);
                        }
                      });
    Tensor* histogram = nullptr;
    Tensor* zero_count = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({nbins_}), &histogram));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({}), &zero_count));
    auto out = histogram->flat<int64_t>();
    for (int64_t bin = 0; bin < nbins_; ++bin) {
      int64_t total = 0;
      for (int64_t copy = 0; copy < pieces * 4; ++copy) total += counts[copy * nbins_ + bin];
      out(bin) = total;
    }
    int64_t total_zeros = 0;
    for (int64_t piece_zeros : zeros) total_zeros += piece_zeros;
    zero_count->scalar<int64_t>()() = total_zeros;
  }

 private:
  int64_t nbins_ = 0;
};

}  // namespace

REGISTER_OP("TfqHistogram")
    .Input("values: float")
    .Input("value_range: float")
    .Attr("nbins: int = 100")
    .Output("histogram: int64")
    .Output("zeros: int64")
    .SetShapeFn([](InferenceContext* c) {
      int64_t nbins = 0;
      TF_RETURN_IF_ERROR(c->GetAttr("nbins", &nbins));
      c->set_output(0, c->Vector(nbins));
      c->set_output(1, c->Scalar());
      return absl::OkStatus();
    })
    .Doc("HistogramFixedWidth(values, value_range, nbins) (int64 counts) and the number "
         "of values equal to 0, in one pass. Values should be finite (a NaN counts in bin 0).");

REGISTER_OP("TfqBatchRange")
    .Input("values: float")
    .Output("min: float")
    .Output("max: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->Scalar());
      c->set_output(1, c->Scalar());
      return absl::OkStatus();
    })
    .Doc("min and max of all values, in one pass (NaN if any value is NaN).");

REGISTER_OP("TfqFakeQuant")
    .Input("inputs: float")
    .Input("min: float")
    .Input("max: float")
    .Attr("num_bits: int = 8")
    .Attr("narrow_range: bool = false")
    .Output("outputs: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    })
    .Doc("FakeQuantWithMinMaxVars's output, the same values.");

REGISTER_OP("TfqFakeQuantGradient")
    .Input("gradients: float")
    .Input("inputs: float")
    .Input("min: float")
    .Input("max: float")
    .Attr("num_bits: int = 8")
    .Attr("narrow_range: bool = false")
    .Output("backprops: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      return absl::OkStatus();
    })
    .Doc("FakeQuantWithMinMaxVarsGradient's backprops_wrt_input alone.");

REGISTER_KERNEL_BUILDER(Name("TfqBatchRange").Device(tensorflow::DEVICE_CPU), BatchRangeOp);
REGISTER_KERNEL_BUILDER(Name("TfqHistogram").Device(tensorflow::DEVICE_CPU), HistogramOp);
REGISTER_KERNEL_BUILDER(Name("TfqFakeQuant").Device(tensorflow::DEVICE_CPU), FakeQuantOp);
REGISTER_KERNEL_BUILDER(Name("TfqFakeQuantGradient").Device(tensorflow::DEVICE_CPU),
                        FakeQuantGradientOp);

}  // namespace tfq_training
