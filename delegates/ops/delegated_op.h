// The interface between the partition kernel (delegate.cc) and one op.
#ifndef TFQ_DELEGATES_OPS_DELEGATED_OP_H_
#define TFQ_DELEGATES_OPS_DELEGATED_OP_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "delegates/ops/node_view.h"
#include "delegates/thread_pool.h"
#include "delegates/tflite_abi.h"

namespace tfq {

// Shapes and data of the tensors one delegated partition touches. Tensors
// produced and consumed inside the partition are not allocated by TFLite, so
// the partition owns them, in one buffer of its own where tensors that are
// never live at once share bytes (arena_plan.h); all others live in the
// runtime's arena, whose addresses are read at every invoke (the arena may
// move). Also carries the partition's thread pool, which ops split their
// loops over.
class PartitionTensors {
 public:
  explicit PartitionTensors(TfLiteContext* context) : context_(context) {}

  // Set by the partition before any Prepare.
  void set_pool(ThreadPool* pool) { pool_ = pool; }
  ThreadPool& pool() const { return *pool_; }

  const Shape& shape(int tensor) const;
  size_t element_size(int tensor) const { return TypeSize(context_->tensors[tensor].type); }
  void set_shape(int tensor, Shape shape) { shapes_[tensor] = std::move(shape); }
  bool has_shape(int tensor) const { return shapes_.count(tensor) != 0; }
  // Forgets what a declined op's Prepare may have set (the claim pass).
  void Forget(int tensor) { shapes_.erase(tensor); values_.erase(tensor); }
  // int32 values known at Prepare: the shape arithmetic of a Keras 3 dynamic
  // batch (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) is computed from the
  // shapes, so RESHAPE can take a shape the graph computes. `values` also
  // reads a constant int32 tensor of the model; nullptr when not known.
  void set_values(int tensor, std::vector<int32_t> values) {
    values_[tensor] = std::move(values);
  }
  const std::vector<int32_t>* values(int tensor);
  // A tensor the partition produces and reads itself, live from op `first`
  // (its producer) to op `last` (its last reader), in the partition's order.
  void MarkOwned(int tensor, int first, int last) { owned_[tensor] = OwnedTensor{first, last}; }
  bool owned(int tensor) const { return owned_.count(tensor) != 0; }
  // Plans and allocates the partition's own tensors from their shapes and
  // lifetimes (call after every Prepare; moves them, so ops read data() at
  // every invoke).
  void AllocateOwned();
  void* data(int tensor);
  template <typename T>
  T* data_as(int tensor) { return static_cast<T*>(data(tensor)); }

 private:
  TfLiteContext* context_;
  ThreadPool* pool_ = nullptr;
  std::map<int, Shape> shapes_;
  std::map<int, std::vector<int32_t>> values_;
  struct OwnedTensor {
    int first = 0, last = 0;  // its lifetime, in ops
  };
  std::map<int, OwnedTensor> owned_;
  // Each tensor's offset in arena_ by index, -1 where not owned: what data()
  // reads at every invoke, one load instead of a walk down owned_ (whose
  // nodes are cold when invokes are far apart).
  std::vector<int64_t> owned_offsets_;
  struct alignas(64) CacheLine {
    unsigned char bytes[64];
  };
  std::vector<CacheLine> arena_;  // the owned tensors, cache-line aligned
};

class DelegatedOp {
 public:
  virtual ~DelegatedOp() = default;
  // Computes output shapes from input shapes (set in `tensors`) and derived
  // state; runs again whenever the interpreter re-prepares (e.g. an input was
  // resized). Returns false with a reason if the shapes cannot be run.
  virtual bool Prepare(PartitionTensors* tensors, std::string* why) = 0;
  virtual void Invoke(PartitionTensors* tensors) = 0;
  virtual std::vector<int> input_tensors() const = 0;
  virtual std::vector<int> output_tensors() const = 0;
  // What tfq-bench's profile prints per op (both valid after Prepare): the
  // kernel path that runs, e.g. "avx512_vnni" ("portable": plain C++, which
  // the compiler may vectorize for the CPU), and the multiply-accumulates
  // of one invoke (0 for ops without dot products).
  virtual std::string kernel_path() const { return "portable"; }
  virtual int64_t macs() const { return 0; }
};

// An op of one input and one output of the same shape, element for element
// (activation tables, QUANTIZE / DEQUANTIZE): the shape passes through.
class ElementwiseOp : public DelegatedOp {
 public:
  ElementwiseOp(int input, int output) : input_(input), output_(output) {}
  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& shape = tensors->shape(input_);
    count_ = NumElements(shape);
    tensors->set_shape(output_, shape);
    return true;
  }
  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 protected:
  int input_, output_;
  int64_t count_ = 0;  // elements, set by Prepare
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_DELEGATED_OP_H_
