#include "delegates/abi_checks.h"

#include <cstring>

#include "delegates/ops/node_view.h"

namespace tfq {
namespace {

// An enum field of a runtime struct, read as the int it is stored as: until
// the layout is confirmed it may hold any value, and loading an out-of-range
// value as the enum type is undefined behaviour (UBSan flags it).
template <typename Enum>
int RawEnum(const Enum& field) {
  static_assert(sizeof(Enum) == sizeof(int), "TFLite's C enums are int-sized");
  int value;
  std::memcpy(&value, &field, sizeof(value));
  return value;
}

// Highest TfLiteType value in TFLite 2.21's common.h (kTfLiteInt2 = 20).
constexpr int kMaxKnownType = 20;

// A plausible dims array: small rank, no negative dimension.
bool PlausibleDims(const TfLiteIntArray* dims) {
  if (dims == nullptr || dims->size < 0 || dims->size > 16) return false;
  for (int i = 0; i < dims->size; ++i) {
    if (dims->data[i] < 0) return false;
  }
  return true;
}

// TfLiteFloatArray is {int size; float data[]} in 2.21 and {float* data; int
// size; bool owning} later. Read as the 2.21 layout, the newer one yields
// the low half of a pointer as `size`, which cannot agree with the zero-point
// array and the legacy per-tensor `params.scale`.
bool CheckAffineLayout(const TfLiteTensor& tensor, int index, std::string* why) {
  const auto* affine =
      static_cast<const TfLiteAffineQuantization*>(tensor.quantization.params);
  if (affine == nullptr || affine->scale == nullptr || affine->zero_point == nullptr) {
    return true;  // nothing to compare; ops reject it if they need it
  }
  const int scales = affine->scale->size;
  const bool sizes_agree = scales >= 1 && scales == affine->zero_point->size;
  const bool first_scale_agrees =
      // Bitwise: a NaN scale is the model's problem (ops decline it), not the ABI's.
      sizes_agree &&
      std::memcmp(&affine->scale->data[0], &tensor.params.scale, sizeof(float)) == 0 &&
      affine->zero_point->data[0] == tensor.params.zero_point;
  if (sizes_agree && (first_scale_agrees || scales > 1)) return true;
  *why = "tensor " + std::to_string(index) + " ('" + (tensor.name ? tensor.name : "?") +
         "') has quantization arrays that do not match TfLiteFloatArray "
         "{int size; float data[]} (TFLite 2.21); this runtime's ABI differs";
  return false;
}

}  // namespace

bool CheckRuntimeAbi(TfLiteContext* context, std::string* why) {
  if (context == nullptr) {
    *why = "no TfLiteContext";
    return false;
  }
  const struct { const void* function; const char* name; } kNeeded[] = {
      {reinterpret_cast<const void*>(context->GetExecutionPlan), "GetExecutionPlan"},
      {reinterpret_cast<const void*>(context->GetNodeAndRegistration), "GetNodeAndRegistration"},
      {reinterpret_cast<const void*>(context->ReplaceNodeSubsetsWithDelegateKernels),
       "ReplaceNodeSubsetsWithDelegateKernels"},
      {reinterpret_cast<const void*>(context->ReportError), "ReportError"},
      {reinterpret_cast<const void*>(context->ResizeTensor), "ResizeTensor"},
  };
  for (const auto& needed : kNeeded) {
    if (needed.function == nullptr) {
      *why = std::string("TfLiteContext::") + needed.name +
             " is null: the runtime's TfLiteContext layout differs from TFLite 2.21";
      return false;
    }
  }
  const size_t count = context->tensors_size;
  if (count > (1u << 24)) {
    *why = "TfLiteContext::tensors_size is implausible (" + std::to_string(count) + ")";
    return false;
  }
  for (size_t i = 0; i < count; ++i) {
    // Same struct size and tensors offset as the runtime: indexing agrees.
    // (The 2.21 wheels leave GetTensor null in the delegate's context; then
    // the plausibility checks below are what catches a different stride.)
    if (context->GetTensor != nullptr &&
        context->GetTensor(context, static_cast<int>(i)) != &context->tensors[i]) {
      *why = "TfLiteContext::GetTensor(" + std::to_string(i) +
             ") differs from &tensors[i]: TfLiteTensor or TfLiteContext layout "
             "differs from TFLite 2.21";
      return false;
    }
    const TfLiteTensor& tensor = context->tensors[i];
    const int type = RawEnum(tensor.type);
    const int allocation_type = RawEnum(tensor.allocation_type);
    const int quantization_type = RawEnum(tensor.quantization.type);
    if (type < kTfLiteNoType || type > kMaxKnownType || allocation_type < kTfLiteMemNone ||
        allocation_type > kTfLiteVariantObject ||
        (quantization_type != kTfLiteNoQuantization &&
         quantization_type != kTfLiteAffineQuantization)) {
      *why = "tensor " + std::to_string(i) + " has an implausible type, allocation type "
             "or quantization type: TfLiteTensor layout differs from TFLite 2.21";
      return false;
    }
    if (tensor.dims != nullptr && !PlausibleDims(tensor.dims)) {
      *why = "tensor " + std::to_string(i) + " has implausible dims: TfLiteTensor "
             "layout differs from TFLite 2.21";
      return false;
    }
    // Constant tensors are always allocated: their byte count must match.
    const size_t type_size = TypeSize(tensor.type);
    if (tensor.allocation_type == kTfLiteMmapRo && tensor.data.raw != nullptr &&
        tensor.dims != nullptr && type_size != 0 &&
        tensor.bytes != static_cast<size_t>(NumElements(ShapeOf(tensor.dims))) * type_size) {
      *why = "tensor " + std::to_string(i) + " has bytes " + std::to_string(tensor.bytes) +
             " that do not match its shape: TfLiteTensor layout differs from TFLite 2.21";
      return false;
    }
    if (tensor.quantization.type == kTfLiteAffineQuantization &&
        !CheckAffineLayout(tensor, static_cast<int>(i), why)) {
      return false;
    }
  }
  return true;
}

}  // namespace tfq
