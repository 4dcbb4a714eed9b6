// Read-only, bounds-checked access to one TFLite node and its tensors.
//
// The delegate never trusts a model: every tensor index, type, shape and
// quantization parameter an op relies on is checked through this view before
// the node is claimed, and every failed check says why (for logs and for the
// claim_all test mode).
#ifndef TFQ_DELEGATES_OPS_NODE_VIEW_H_
#define TFQ_DELEGATES_OPS_NODE_VIEW_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "delegates/tflite_abi.h"

namespace tfq {

using Shape = std::vector<int>;

int64_t NumElements(const Shape& shape);
Shape ShapeOf(const TfLiteIntArray* dims);
std::string ShapeToString(const Shape& shape);
const char* TypeName(TfLiteType type);
size_t TypeSize(TfLiteType type);  // 0 for types tfq does not handle

// Quantization of one tensor, copied out of the runtime's structs.
struct TensorQuantization {
  std::vector<float> scales;        // 1 = per-tensor
  std::vector<int32_t> zero_points;  // same length as scales
  int quantized_dimension = 0;
  bool per_channel() const { return scales.size() > 1; }
};

class NodeView {
 public:
  NodeView(TfLiteContext* context, const TfLiteNode* node,
           const TfLiteRegistration* registration)
      : context_(context), node_(node), registration_(registration) {}

  TfLiteContext* context() const { return context_; }
  const TfLiteNode& node() const { return *node_; }
  int32_t builtin_code() const { return registration_->builtin_code; }

  int num_inputs() const { return node_->inputs ? node_->inputs->size : 0; }
  int num_outputs() const { return node_->outputs ? node_->outputs->size : 0; }
  // Tensor index of input/output `i`; -1 for an omitted optional input.
  int input_index(int i) const { return node_->inputs->data[i]; }
  int output_index(int i) const { return node_->outputs->data[i]; }

  // Checks that the node has `min`..`max` inputs and `outputs` outputs, that
  // every index is a valid tensor with dims, or -1 for an optional input
  // (those past the first `min_inputs`).
  bool CheckArity(int min_inputs, int max_inputs, int outputs,
                  std::string* why) const;

  // nullptr for an omitted optional input (index -1); CheckArity first.
  const TfLiteTensor* input(int i) const { return TensorAt(input_index(i)); }
  const TfLiteTensor* output(int i) const { return TensorAt(output_index(i)); }
  const TfLiteTensor* TensorAt(int index) const {
    return index < 0 ? nullptr : &context_->tensors[index];
  }

 private:
  TfLiteContext* context_;
  const TfLiteNode* node_;
  const TfLiteRegistration* registration_;
};

// Checks shared by the ops. Each returns false and writes a reason naming the
// tensor (by role and model name) when the check fails.
bool CheckType(const TfLiteTensor& tensor, const char* role, TfLiteType type,
               std::string* why);
// A constant tensor (data in the model file) with bytes matching its shape.
bool CheckConstant(const TfLiteTensor& tensor, const char* role,
                   std::string* why);
bool CheckRank(const TfLiteTensor& tensor, const char* role, int rank,
               std::string* why);
// Affine quantization with finite scales > 0 and zero points in the range of
// the tensor's type; per-channel only if `allow_per_channel` (then along
// `channel_dimension`, with one scale per channel).
bool ReadQuantization(const TfLiteTensor& tensor, const char* role,
                      bool allow_per_channel, int channel_dimension,
                      TensorQuantization* quantization, std::string* why);
// The values of a constant tensor (after CheckConstant), copied out byte by
// byte: a model's buffers carry no alignment guarantee, and reading an int32
// or int64 through a misaligned pointer is undefined behaviour.
template <typename T>
std::vector<T> ConstantValues(const TfLiteTensor& tensor) {
  std::vector<T> values(tensor.bytes / sizeof(T));
  if (!values.empty()) {
    std::memcpy(values.data(), tensor.data.raw_const, values.size() * sizeof(T));
  }
  return values;
}

// All zero points 0 (int8 weights are symmetric).
bool CheckSymmetric(const TensorQuantization& quantization, const char* role,
                    std::string* why);

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_NODE_VIEW_H_
