#include "delegates/ops/node_view.h"

#include <cmath>
#include <limits>

namespace tfq {
namespace {

std::string Describe(const TfLiteTensor& tensor, const char* role) {
  return std::string(role) + " tensor '" + (tensor.name ? tensor.name : "?") + "'";
}

void ZeroPointRange(TfLiteType type, int32_t* lo, int32_t* hi) {
  switch (type) {
    case kTfLiteInt8: *lo = -128; *hi = 127; return;
    case kTfLiteUInt8: *lo = 0; *hi = 255; return;
    case kTfLiteInt16: *lo = 0; *hi = 0; return;  // int16 is symmetric in TFLite
    default: *lo = std::numeric_limits<int32_t>::min(); *hi = std::numeric_limits<int32_t>::max();
  }
}

}  // namespace

int64_t NumElements(const Shape& shape) {
  int64_t count = 1;
  for (int dim : shape) count *= dim;
  return count;
}

Shape ShapeOf(const TfLiteIntArray* dims) {
  return dims ? Shape(dims->data, dims->data + dims->size) : Shape();
}

std::string ShapeToString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

const char* TypeName(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32: return "float32";
    case kTfLiteInt32: return "int32";
    case kTfLiteUInt8: return "uint8";
    case kTfLiteInt64: return "int64";
    case kTfLiteInt16: return "int16";
    case kTfLiteInt8: return "int8";
    case kTfLiteFloat16: return "float16";
    case kTfLiteBool: return "bool";
    default: return "unsupported type";
  }
}

size_t TypeSize(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32: case kTfLiteInt32: return 4;
    case kTfLiteInt64: return 8;
    case kTfLiteInt16: case kTfLiteFloat16: return 2;
    case kTfLiteInt8: case kTfLiteUInt8: case kTfLiteBool: return 1;
    default: return 0;
  }
}

bool NodeView::CheckArity(int min_inputs, int max_inputs, int outputs,
                          std::string* why) const {
  if (num_inputs() < min_inputs || num_inputs() > max_inputs) {
    *why = "has " + std::to_string(num_inputs()) + " inputs, expected " +
           std::to_string(min_inputs) + ".." + std::to_string(max_inputs);
    return false;
  }
  if (num_outputs() != outputs) {
    *why = "has " + std::to_string(num_outputs()) + " outputs, expected " +
           std::to_string(outputs);
    return false;
  }
  const int64_t tensor_count = static_cast<int64_t>(context_->tensors_size);
  auto valid = [&](int index, bool optional) {
    if (index == -1) return optional;
    return index >= 0 && index < tensor_count && context_->tensors[index].dims != nullptr;
  };
  // The first `min_inputs` are required; only the rest may be omitted (-1).
  for (int i = 0; i < num_inputs(); ++i) {
    if (!valid(input_index(i), /*optional=*/i >= min_inputs)) {
      *why = "input " + std::to_string(i) + " has an invalid tensor index " +
             std::to_string(input_index(i));
      return false;
    }
  }
  for (int i = 0; i < num_outputs(); ++i) {
    if (!valid(output_index(i), /*optional=*/false)) {
      *why = "output " + std::to_string(i) + " has an invalid tensor index " +
             std::to_string(output_index(i));
      return false;
    }
  }
  return true;
}

bool CheckType(const TfLiteTensor& tensor, const char* role, TfLiteType type,
               std::string* why) {
  if (tensor.type == type) return true;
  *why = Describe(tensor, role) + " is " + TypeName(tensor.type) + ", expected " +
         TypeName(type);
  return false;
}

bool CheckConstant(const TfLiteTensor& tensor, const char* role,
                   std::string* why) {
  if (tensor.allocation_type != kTfLiteMmapRo || tensor.data.raw == nullptr) {
    *why = Describe(tensor, role) + " is not a constant of the model";
    return false;
  }
  const int64_t expected = NumElements(ShapeOf(tensor.dims)) *
                           static_cast<int64_t>(TypeSize(tensor.type));
  if (expected <= 0 || static_cast<int64_t>(tensor.bytes) != expected) {
    *why = Describe(tensor, role) + " holds " + std::to_string(tensor.bytes) +
           " bytes, its shape " + ShapeToString(ShapeOf(tensor.dims)) + " needs " +
           std::to_string(expected);
    return false;
  }
  return true;
}

bool CheckRank(const TfLiteTensor& tensor, const char* role, int rank,
               std::string* why) {
  if (tensor.dims->size == rank) return true;
  *why = Describe(tensor, role) + " has shape " + ShapeToString(ShapeOf(tensor.dims)) +
         ", expected rank " + std::to_string(rank);
  return false;
}

bool ReadQuantization(const TfLiteTensor& tensor, const char* role,
                      bool allow_per_channel, int channel_dimension,
                      TensorQuantization* quantization, std::string* why) {
  const auto* affine =
      static_cast<const TfLiteAffineQuantization*>(tensor.quantization.params);
  if (tensor.quantization.type != kTfLiteAffineQuantization || affine == nullptr ||
      affine->scale == nullptr || affine->zero_point == nullptr) {
    *why = Describe(tensor, role) + " is not affine-quantized";
    return false;
  }
  const int count = affine->scale->size;
  if (count < 1 || affine->zero_point->size != count) {
    *why = Describe(tensor, role) + " has " + std::to_string(count) + " scales and " +
           std::to_string(affine->zero_point->size) + " zero points";
    return false;
  }
  if (count > 1) {
    const int dim = affine->quantized_dimension;
    if (!allow_per_channel || dim != channel_dimension) {
      *why = Describe(tensor, role) + " is quantized per channel along dimension " +
             std::to_string(dim) + (allow_per_channel
                 ? ", expected dimension " + std::to_string(channel_dimension)
                 : ", expected per-tensor quantization");
      return false;
    }
    if (dim >= tensor.dims->size || tensor.dims->data[dim] != count) {
      *why = Describe(tensor, role) + " has " + std::to_string(count) +
             " scales for shape " + ShapeToString(ShapeOf(tensor.dims));
      return false;
    }
  }
  int32_t zp_lo, zp_hi;
  ZeroPointRange(tensor.type, &zp_lo, &zp_hi);
  quantization->scales.assign(affine->scale->data, affine->scale->data + count);
  quantization->zero_points.assign(affine->zero_point->data,
                                   affine->zero_point->data + count);
  quantization->quantized_dimension = affine->quantized_dimension;
  for (int c = 0; c < count; ++c) {
    const float scale = quantization->scales[c];
    if (!(std::isfinite(scale) && scale > 0.0f)) {
      *why = Describe(tensor, role) + " has scale " + std::to_string(scale) +
             " (channel " + std::to_string(c) + "); scales must be finite and > 0";
      return false;
    }
    const int32_t zp = quantization->zero_points[c];
    if (zp < zp_lo || zp > zp_hi) {
      *why = Describe(tensor, role) + " has zero point " + std::to_string(zp) +
             " outside [" + std::to_string(zp_lo) + ", " + std::to_string(zp_hi) + "]";
      return false;
    }
  }
  return true;
}

bool CheckSymmetric(const TensorQuantization& quantization, const char* role,
                    std::string* why) {
  for (size_t c = 0; c < quantization.zero_points.size(); ++c) {
    if (quantization.zero_points[c] != 0) {
      *why = std::string(role) + " has zero point " +
             std::to_string(quantization.zero_points[c]) + " at channel " +
             std::to_string(c) + "; int8 weights must be symmetric (zero point 0)";
      return false;
    }
  }
  return true;
}

}  // namespace tfq
