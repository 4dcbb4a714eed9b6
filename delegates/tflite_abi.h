// The slice of the TFLite C ABI (tensorflow/lite/core/c/common.h, 2.21, LP64)
// that the tfq delegate uses.
//
// Why our own declarations: neither the TF nor the LiteRT wheel ships TFLite's
// C headers or exports TfLite* symbols, so the delegate cannot include or link
// them. common.h promises "semi-ABI stable: append only"; we declare the
// structs as the runtime lays them out, pin every offset we rely on with
// static_assert, and re-check at run time (abi_checks.cc) before claiming any
// node. Only function pointers handed to us in TfLiteContext are ever called.
#ifndef TFQ_DELEGATES_TFLITE_ABI_H_
#define TFQ_DELEGATES_TFLITE_ABI_H_

#include <cstddef>
#include <cstdint>

extern "C" {

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;

typedef enum TfLiteType {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
  kTfLiteInt32 = 2,
  kTfLiteUInt8 = 3,
  kTfLiteInt64 = 4,
  kTfLiteString = 5,
  kTfLiteBool = 6,
  kTfLiteInt16 = 7,
  kTfLiteComplex64 = 8,
  kTfLiteInt8 = 9,
  kTfLiteFloat16 = 10,
} TfLiteType;

typedef enum TfLiteAllocationType {
  kTfLiteMemNone = 0,
  kTfLiteMmapRo = 1,  // constant data from the model file
  kTfLiteArenaRw = 2,
  kTfLiteArenaRwPersistent = 3,
  kTfLiteDynamic = 4,
  kTfLitePersistentRo = 5,
  kTfLiteCustom = 6,
  kTfLiteVariantObject = 7,
} TfLiteAllocationType;

typedef enum TfLiteQuantizationType {
  kTfLiteNoQuantization = 0,
  kTfLiteAffineQuantization = 1,
} TfLiteQuantizationType;

typedef enum TfLiteFusedActivation {
  kTfLiteActNone = 0,
  kTfLiteActRelu = 1,
  kTfLiteActReluN1To1 = 2,
  kTfLiteActRelu6 = 3,
  kTfLiteActTanh = 4,
  kTfLiteActSignBit = 5,
  kTfLiteActSigmoid = 6,
} TfLiteFusedActivation;

typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

// 2.21 layout. TF master has since changed it to {float* data; int size;
// bool owning;}: abi_checks.cc detects which one the runtime uses.
typedef struct TfLiteFloatArray {
  int size;
  float data[];
} TfLiteFloatArray;

typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

typedef struct TfLiteQuantization {
  TfLiteQuantizationType type;
  void* params;  // TfLiteAffineQuantization* when type is affine
} TfLiteQuantization;

typedef struct TfLiteAffineQuantization {
  TfLiteFloatArray* scale;
  TfLiteIntArray* zero_point;
  int32_t quantized_dimension;
} TfLiteAffineQuantization;

typedef union TfLitePtrUnion {
  int32_t* i32;
  int64_t* i64;
  float* f;
  int16_t* i16;
  uint8_t* uint8;
  int8_t* int8;
  char* raw;
  const char* raw_const;
  void* data;
} TfLitePtrUnion;

struct TfLiteDelegate;
struct TfLiteContext;

typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
  TfLiteAllocationType allocation_type;
  size_t bytes;
  const void* allocation;
  const char* name;
  struct TfLiteDelegate* delegate;
  int buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  void* sparsity;
  const TfLiteIntArray* dims_signature;
} TfLiteTensor;

typedef struct TfLiteNode {
  TfLiteIntArray* inputs;
  TfLiteIntArray* outputs;
  TfLiteIntArray* intermediates;
  TfLiteIntArray* temporaries;
  void* user_data;
  void* builtin_data;
  const void* custom_initial_data;
  int custom_initial_data_size;
  struct TfLiteDelegate* delegate;
  bool might_have_side_effect;
} TfLiteNode;

typedef struct TfLiteRegistration {
  void* (*init)(struct TfLiteContext* context, const char* buffer,
                size_t length);
  void (*free)(struct TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(struct TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(struct TfLiteContext* context, TfLiteNode* node);
  const char* (*profiling_string)(const struct TfLiteContext* context,
                                  const TfLiteNode* node);
  int32_t builtin_code;
  const char* custom_name;
  int version;
  void* registration_external;  // read by the runtime: must stay NULL
  void* (*async_kernel)(struct TfLiteContext* context, TfLiteNode* node);
  uint64_t inplace_operator;  // must stay 0
} TfLiteRegistration;

typedef struct TfLiteDelegateParams {
  struct TfLiteDelegate* delegate;
  TfLiteIntArray* nodes_to_replace;
  TfLiteIntArray* input_tensors;
  TfLiteIntArray* output_tensors;
} TfLiteDelegateParams;

typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext* context,
                                   TfLiteIntArray** execution_plan);
  TfLiteTensor* tensors;
  void* impl_;
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext* context,
                               TfLiteTensor* tensor, TfLiteIntArray* new_size);
  void (*ReportError)(struct TfLiteContext* context, const char* msg, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext* context, int tensors_to_add,
                             int* first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext* context,
                                         int node_index, TfLiteNode** node,
                                         TfLiteRegistration** registration);
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(
      struct TfLiteContext* context, TfLiteRegistration registration,
      const TfLiteIntArray* nodes_to_replace, struct TfLiteDelegate* delegate);
  int recommended_num_threads;
  void* (*GetExternalContext)(struct TfLiteContext* context, int type);
  void (*SetExternalContext)(struct TfLiteContext* context, int type,
                             void* external_context);
  bool allow_fp32_relax_to_fp16;
  void* profiler;
  void* (*AllocatePersistentBuffer)(struct TfLiteContext* context,
                                    size_t bytes);
  TfLiteStatus (*AllocateBufferForEval)(struct TfLiteContext* context,
                                        size_t bytes, void** ptr);
  TfLiteStatus (*RequestScratchBufferInArena)(struct TfLiteContext* context,
                                              size_t bytes, int* buffer_idx);
  void* (*GetScratchBuffer)(struct TfLiteContext* context, int buffer_idx);
  TfLiteStatus (*ResizeTensorExplicit)(struct TfLiteContext* context,
                                       TfLiteTensor* tensor, int dims,
                                       const int* shape);
  TfLiteStatus (*PreviewDelegatePartitioning)(
      struct TfLiteContext* context, const TfLiteIntArray* nodes_to_replace,
      TfLiteDelegateParams** partition_params_array, int* num_partitions);
  TfLiteTensor* (*GetTensor)(const struct TfLiteContext* context,
                             int tensor_idx);
  void* (*GetEvalTensor)(const struct TfLiteContext* context, int tensor_idx);
  TfLiteStatus (*GetModelMetadata)(const struct TfLiteContext* context,
                                   const char* name, const char** ptr,
                                   size_t* bytes);
  TfLiteStatus (*AcquireSubgraphContext)(struct TfLiteContext* context,
                                         int subgraph_index,
                                         struct TfLiteContext** acquired);
  TfLiteStatus (*ReleaseSubgraphContext)(struct TfLiteContext* context,
                                         int subgraph_index);
} TfLiteContext;

enum {
  kTfLiteDelegateFlagsAllowDynamicTensors = 1,
  kTfLiteDelegateFlagsRequirePropagatedShapes = 2,
  kTfLiteDelegateFlagsPerOperatorProfiling = 4,
};

typedef struct TfLiteDelegate {
  void* data_;
  TfLiteStatus (*Prepare)(TfLiteContext* context,
                          struct TfLiteDelegate* delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext* context,
                                       struct TfLiteDelegate* delegate,
                                       int buffer_handle, TfLiteTensor* tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext* context,
                                     struct TfLiteDelegate* delegate,
                                     int buffer_handle, TfLiteTensor* tensor);
  void (*FreeBufferHandle)(TfLiteContext* context,
                           struct TfLiteDelegate* delegate, int* handle);
  int64_t flags;
  void* opaque_delegate_builder;  // must be NULL for a struct delegate
} TfLiteDelegate;

// builtin_op_data.h
typedef struct TfLiteFullyConnectedParams {
  TfLiteFusedActivation activation;
  int weights_format;  // 0 = DEFAULT; anything else is a packed format
  bool keep_num_dims;
  bool asymmetric_quantize_inputs;
  TfLiteType quantized_bias_type;
} TfLiteFullyConnectedParams;

// TfLiteAddParams and TfLiteSubParams have this layout.
typedef struct TfLiteAddSubParams {
  TfLiteFusedActivation activation;
  bool pot_scale_int16;  // int16 only
} TfLiteAddSubParams;

typedef struct TfLitePaddingValues {
  int width;
  int height;
  int width_offset;
  int height_offset;
} TfLitePaddingValues;

typedef struct TfLitePoolParams {
  int padding;  // TfLitePadding
  int stride_width;
  int stride_height;
  int filter_width;
  int filter_height;
  TfLiteFusedActivation activation;
  TfLitePaddingValues computed_padding;  // TFLite's own kernel state
} TfLitePoolParams;

typedef struct TfLiteConcatenationParams {
  int axis;
  TfLiteFusedActivation activation;
} TfLiteConcatenationParams;

typedef struct TfLiteMulParams {
  TfLiteFusedActivation activation;
} TfLiteMulParams;

typedef struct TfLiteSoftmaxParams {
  float beta;
} TfLiteSoftmaxParams;

typedef struct TfLiteLeakyReluParams {
  float alpha;
} TfLiteLeakyReluParams;

// TfLiteResizeBilinearParams and TfLiteResizeNearestNeighborParams.
typedef struct TfLiteResizeParams {
  bool align_corners;
  bool half_pixel_centers;
} TfLiteResizeParams;

typedef struct TfLiteTransposeConvParams {
  int padding;  // TfLitePadding
  int stride_width;
  int stride_height;
  TfLiteFusedActivation activation;
  TfLiteType quantized_bias_type;
} TfLiteTransposeConvParams;

typedef struct TfLiteReshapeParams {
  int32_t shape[8];  // legacy: used when there is no shape tensor
  int num_dimensions;
} TfLiteReshapeParams;

typedef struct TfLiteSqueezeParams {
  int32_t squeeze_dims[8];
  int num_squeeze_dims;
} TfLiteSqueezeParams;

typedef struct TfLiteReducerParams {
  bool keep_dims;
} TfLiteReducerParams;

typedef struct TfLiteShapeParams {
  TfLiteType out_type;
} TfLiteShapeParams;

typedef struct TfLiteStridedSliceParams {
  int begin_mask;
  int end_mask;
  int ellipsis_mask;
  int new_axis_mask;
  int shrink_axis_mask;
  bool offset;  // version 8: `end` is an offset from `begin`
} TfLiteStridedSliceParams;

typedef struct TfLitePackParams {
  int values_count;
  int axis;
} TfLitePackParams;

typedef enum TfLitePadding {
  kTfLitePaddingUnknown = 0,
  kTfLitePaddingSame = 1,
  kTfLitePaddingValid = 2,
} TfLitePadding;

typedef struct TfLiteConvParams {
  TfLitePadding padding;
  int stride_width;
  int stride_height;
  TfLiteFusedActivation activation;
  int dilation_width_factor;
  int dilation_height_factor;
  TfLiteType quantized_bias_type;
} TfLiteConvParams;

typedef struct TfLiteDepthwiseConvParams {
  TfLitePadding padding;
  int stride_width;
  int stride_height;
  int depth_multiplier;  // redundant with the shapes; TFLite ignores it
  TfLiteFusedActivation activation;
  int dilation_width_factor;
  int dilation_height_factor;
} TfLiteDepthwiseConvParams;

}  // extern "C"

// Builtin operator codes (schema BuiltinOperator) of the ops tfq knows.
namespace tfq {
enum BuiltinOperator : int32_t {
  kBuiltinAdd = 0,
  kBuiltinAveragePool2D = 1,
  kBuiltinConcatenation = 2,
  kBuiltinConv2D = 3,
  kBuiltinDepthwiseConv2D = 4,
  kBuiltinDequantize = 6,
  kBuiltinFullyConnected = 9,
  kBuiltinLogistic = 14,
  kBuiltinMaxPool2D = 17,
  kBuiltinMul = 18,
  kBuiltinRelu = 19,
  kBuiltinReluN1To1 = 20,
  kBuiltinRelu6 = 21,
  kBuiltinReshape = 22,
  kBuiltinResizeBilinear = 23,
  kBuiltinSoftmax = 25,
  kBuiltinTanh = 28,
  kBuiltinPad = 34,
  kBuiltinMean = 40,
  kBuiltinSub = 41,
  kBuiltinSqueeze = 43,
  kBuiltinStridedSlice = 45,
  kBuiltinExpandDims = 70,
  kBuiltinDelegate = 51,
  kBuiltinPadV2 = 60,
  kBuiltinTransposeConv = 67,
  kBuiltinShape = 77,
  kBuiltinPack = 83,
  kBuiltinResizeNearestNeighbor = 97,
  kBuiltinLeakyRelu = 98,
  kBuiltinQuantize = 114,
  kBuiltinHardSwish = 117,
};
}  // namespace tfq

// Layout pins: if any of these fail, the declarations above drifted from the
// 2.21 runtime they were measured against.
static_assert(sizeof(void*) == 8, "tfq's ABI declarations assume LP64");
static_assert(sizeof(TfLiteTensor) == 112, "TfLiteTensor size");
static_assert(offsetof(TfLiteTensor, data) == 8, "TfLiteTensor::data");
static_assert(offsetof(TfLiteTensor, dims) == 16, "TfLiteTensor::dims");
static_assert(offsetof(TfLiteTensor, params) == 24, "TfLiteTensor::params");
static_assert(offsetof(TfLiteTensor, allocation_type) == 32,
              "TfLiteTensor::allocation_type");
static_assert(offsetof(TfLiteTensor, bytes) == 40, "TfLiteTensor::bytes");
static_assert(offsetof(TfLiteTensor, name) == 56, "TfLiteTensor::name");
static_assert(offsetof(TfLiteTensor, buffer_handle) == 72,
              "TfLiteTensor::buffer_handle");
static_assert(offsetof(TfLiteTensor, data_is_stale) == 76,
              "TfLiteTensor::data_is_stale");
static_assert(offsetof(TfLiteTensor, quantization) == 80,
              "TfLiteTensor::quantization");
static_assert(offsetof(TfLiteTensor, sparsity) == 96, "TfLiteTensor::sparsity");
static_assert(offsetof(TfLiteTensor, dims_signature) == 104,
              "TfLiteTensor::dims_signature");
static_assert(sizeof(TfLiteNode) == 80, "TfLiteNode size");
static_assert(offsetof(TfLiteNode, builtin_data) == 40,
              "TfLiteNode::builtin_data");
static_assert(offsetof(TfLiteNode, delegate) == 64, "TfLiteNode::delegate");
static_assert(sizeof(TfLiteRegistration) == 88, "TfLiteRegistration size");
static_assert(offsetof(TfLiteRegistration, builtin_code) == 40,
              "TfLiteRegistration::builtin_code");
static_assert(offsetof(TfLiteRegistration, registration_external) == 64,
              "TfLiteRegistration::registration_external");
static_assert(offsetof(TfLiteRegistration, inplace_operator) == 80,
              "TfLiteRegistration::inplace_operator");
static_assert(sizeof(TfLiteContext) == 200, "TfLiteContext size");
static_assert(offsetof(TfLiteContext, tensors) == 0x10,
              "TfLiteContext::tensors");
static_assert(offsetof(TfLiteContext, ReplaceNodeSubsetsWithDelegateKernels) ==
                  64,
              "TfLiteContext::ReplaceNodeSubsetsWithDelegateKernels");
static_assert(offsetof(TfLiteContext, recommended_num_threads) == 0x48,
              "TfLiteContext::recommended_num_threads");
static_assert(offsetof(TfLiteContext, ResizeTensorExplicit) == 144,
              "TfLiteContext::ResizeTensorExplicit");
static_assert(offsetof(TfLiteContext, GetTensor) == 0xA0,
              "TfLiteContext::GetTensor");
static_assert(sizeof(TfLiteDelegate) == 56, "TfLiteDelegate size");
static_assert(offsetof(TfLiteDelegate, flags) == 40, "TfLiteDelegate::flags");
static_assert(sizeof(TfLiteDelegateParams) == 32, "TfLiteDelegateParams size");
static_assert(sizeof(TfLiteAffineQuantization) == 24,
              "TfLiteAffineQuantization size");
static_assert(sizeof(TfLiteFullyConnectedParams) == 16,
              "TfLiteFullyConnectedParams size");
static_assert(offsetof(TfLiteFullyConnectedParams, keep_num_dims) == 8,
              "TfLiteFullyConnectedParams::keep_num_dims");
static_assert(sizeof(TfLiteConvParams) == 28, "TfLiteConvParams size");
static_assert(sizeof(TfLiteReducerParams) == 1, "TfLiteReducerParams size");
static_assert(sizeof(TfLiteReshapeParams) == 36, "TfLiteReshapeParams size");
static_assert(sizeof(TfLiteStridedSliceParams) == 24, "TfLiteStridedSliceParams size");
static_assert(sizeof(TfLitePackParams) == 8, "TfLitePackParams size");
static_assert(sizeof(TfLiteConcatenationParams) == 8, "TfLiteConcatenationParams size");
static_assert(sizeof(TfLiteLeakyReluParams) == 4, "TfLiteLeakyReluParams size");
static_assert(sizeof(TfLiteResizeParams) == 2, "TfLiteResize*Params size");
static_assert(sizeof(TfLiteTransposeConvParams) == 20, "TfLiteTransposeConvParams size");
static_assert(sizeof(TfLiteSqueezeParams) == 36, "TfLiteSqueezeParams size");
static_assert(sizeof(TfLitePoolParams) == 40, "TfLitePoolParams size");
static_assert(offsetof(TfLitePoolParams, activation) == 20, "TfLitePoolParams::activation");
static_assert(sizeof(TfLiteAddSubParams) == 8, "TfLiteAddParams / TfLiteSubParams size");
static_assert(offsetof(TfLiteConvParams, dilation_width_factor) == 16,
              "TfLiteConvParams::dilation_width_factor");
static_assert(sizeof(TfLiteDepthwiseConvParams) == 28, "TfLiteDepthwiseConvParams size");
static_assert(offsetof(TfLiteDepthwiseConvParams, activation) == 16,
              "TfLiteDepthwiseConvParams::activation");

#endif  // TFQ_DELEGATES_TFLITE_ABI_H_
