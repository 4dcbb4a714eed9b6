// The delegate's run-time ABI checks, on a fake TfLiteContext: a runtime that
// looks like TFLite 2.21 gets its nodes claimed; one that does not (here, a
// tensor array read with the wrong stride, a TfLiteFloatArray of the newer
// layout, a missing context function) gets nothing claimed and no crash.
#include "delegates/abi_checks.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "delegates/delegate.h"

namespace tfq {
namespace {

TfLiteIntArray* NewIntArray(std::vector<int> values) {
  auto* array = static_cast<TfLiteIntArray*>(std::malloc(sizeof(int) * (values.size() + 1)));
  array->size = static_cast<int>(values.size());
  std::copy(values.begin(), values.end(), array->data);
  return array;
}

TfLiteFloatArray* NewFloatArray(std::vector<float> values) {
  auto* array = static_cast<TfLiteFloatArray*>(std::malloc(sizeof(float) * (values.size() + 1)));
  array->size = static_cast<int>(values.size());
  std::copy(values.begin(), values.end(), array->data);
  return array;
}

void IgnoreError(TfLiteContext*, const char*, ...) {}

// A 2.21-shaped graph with one int8 FULLY_CONNECTED node: x[1,4] * w[3,4] -> y[1,3].
class FakeRuntime {
 public:
  FakeRuntime() : tensors_(3) {
    std::memset(tensors_.data(), 0, sizeof(TfLiteTensor) * tensors_.size());
    const std::vector<std::vector<int>> shapes = {{1, 4}, {3, 4}, {1, 3}};
    const float scales[] = {0.5f, 0.01f, 0.25f};
    for (int i = 0; i < 3; ++i) {
      TfLiteTensor& t = tensors_[i];
      t.type = kTfLiteInt8;
      t.dims = NewIntArray(shapes[i]);
      t.allocation_type = i == 1 ? kTfLiteMmapRo : kTfLiteArenaRw;
      t.bytes = shapes[i][0] * shapes[i][1];
      t.name = "t";
      t.params = {scales[i], 0};
      auto* affine = static_cast<TfLiteAffineQuantization*>(std::calloc(1, sizeof(TfLiteAffineQuantization)));
      affine->scale = NewFloatArray({scales[i]});
      affine->zero_point = NewIntArray({0});
      t.quantization = {kTfLiteAffineQuantization, affine};
    }
    tensors_[1].data.int8 = weights_;
    node_.inputs = NewIntArray({0, 1, -1});
    node_.outputs = NewIntArray({2});
    node_.builtin_data = &params_;
    registration_.builtin_code = kBuiltinFullyConnected;
    plan_ = NewIntArray({0});

    context_.tensors_size = tensors_.size();
    context_.tensors = tensors_.data();
    context_.impl_ = this;
    context_.GetExecutionPlan = [](TfLiteContext* c, TfLiteIntArray** plan) {
      *plan = Self(c)->plan_;
      return kTfLiteOk;
    };
    context_.GetNodeAndRegistration = [](TfLiteContext* c, int, TfLiteNode** n,
                                         TfLiteRegistration** r) {
      *n = &Self(c)->node_;
      *r = &Self(c)->registration_;
      return kTfLiteOk;
    };
    context_.ReplaceNodeSubsetsWithDelegateKernels =
        [](TfLiteContext* c, TfLiteRegistration, const TfLiteIntArray* nodes, TfLiteDelegate*) {
          Self(c)->replaced_nodes_ = nodes->size;
          return kTfLiteOk;
        };
    context_.ResizeTensor = [](TfLiteContext*, TfLiteTensor*, TfLiteIntArray* a) {
      std::free(a);
      return kTfLiteOk;
    };
    context_.ReportError = &IgnoreError;
  }

  static FakeRuntime* Self(TfLiteContext* c) { return static_cast<FakeRuntime*>(c->impl_); }
  TfLiteContext* context() { return &context_; }
  TfLiteTensor& tensor(int i) { return tensors_[i]; }
  int replaced_nodes() const { return replaced_nodes_; }
  // Leaks its small arrays on purpose: a test process.

 private:
  std::vector<TfLiteTensor> tensors_;
  int8_t weights_[12] = {};
  TfLiteFullyConnectedParams params_{};
  TfLiteNode node_{};
  TfLiteRegistration registration_{};
  TfLiteIntArray* plan_;
  TfLiteContext context_{};
  int replaced_nodes_ = -1;
};

int ClaimedBy(FakeRuntime& runtime) {
  Delegate delegate(DelegateOptions{});
  TfLiteDelegate* d = delegate.tflite_delegate();
  EXPECT_EQ(d->Prepare(runtime.context(), d), kTfLiteOk);
  return delegate.last_claim().nodes_claimed;
}

TEST(AbiChecksTest, A221RuntimeIsAccepted) {
  FakeRuntime runtime;
  std::string why;
  EXPECT_TRUE(CheckRuntimeAbi(runtime.context(), &why)) << why;
  EXPECT_EQ(ClaimedBy(runtime), 1);
  EXPECT_EQ(runtime.replaced_nodes(), 1);
}

TEST(AbiChecksTest, WrongGetTensorMeansNoClaims) {
  FakeRuntime runtime;
  runtime.context()->GetTensor = [](const TfLiteContext* c, int i) {
    return &c->tensors[(i + 1) % 3];  // a runtime whose TfLiteTensor stride differs
  };
  std::string why;
  EXPECT_FALSE(CheckRuntimeAbi(runtime.context(), &why));
  EXPECT_NE(why.find("GetTensor"), std::string::npos);
  EXPECT_EQ(ClaimedBy(runtime), 0);
  EXPECT_EQ(runtime.replaced_nodes(), -1);
}

TEST(AbiChecksTest, ConstantBytesMismatchMeansNoClaims) {
  FakeRuntime runtime;
  runtime.tensor(1).bytes = 13;
  std::string why;
  EXPECT_FALSE(CheckRuntimeAbi(runtime.context(), &why));
  EXPECT_EQ(ClaimedBy(runtime), 0);
}

TEST(AbiChecksTest, NewerFloatArrayLayoutMeansNoClaims) {
  FakeRuntime runtime;
  // {float* data; int size; bool owning}: read as {int size; float data[]}.
  struct NewFloatArray { float* data; int size; bool owning; };
  static float scale = 0.5f;
  static NewFloatArray newer{&scale, 1, false};
  auto* affine = static_cast<TfLiteAffineQuantization*>(runtime.tensor(0).quantization.params);
  affine->scale = reinterpret_cast<TfLiteFloatArray*>(&newer);
  std::string why;
  EXPECT_FALSE(CheckRuntimeAbi(runtime.context(), &why));
  EXPECT_NE(why.find("TfLiteFloatArray"), std::string::npos) << why;
  EXPECT_EQ(ClaimedBy(runtime), 0);
}

TEST(AbiChecksTest, ImplausibleTensorFieldsMeanNoClaims) {
  FakeRuntime runtime;
  runtime.tensor(2).allocation_type = static_cast<TfLiteAllocationType>(1234);
  EXPECT_EQ(ClaimedBy(runtime), 0);
}

TEST(AbiChecksTest, MissingContextFunctionMeansNoClaims) {
  FakeRuntime runtime;
  runtime.context()->ReplaceNodeSubsetsWithDelegateKernels = nullptr;
  std::string why;
  EXPECT_FALSE(CheckRuntimeAbi(runtime.context(), &why));
  EXPECT_NE(why.find("ReplaceNodeSubsetsWithDelegateKernels"), std::string::npos);
  EXPECT_EQ(ClaimedBy(runtime), 0);
}

}  // namespace
}  // namespace tfq
