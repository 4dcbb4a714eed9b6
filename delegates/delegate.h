// The tfq delegate: decides which nodes to claim, and the kernel that runs a
// claimed partition.
#ifndef TFQ_DELEGATES_DELEGATE_H_
#define TFQ_DELEGATES_DELEGATE_H_

#include <mutex>
#include <string>
#include <vector>

#include "delegates/op_profile.h"
#include "delegates/options.h"
#include "delegates/tflite_abi.h"

namespace tfq {

// What the last Prepare claimed; exposed through the C API for tests and
// tfq-bench ("every FULLY_CONNECTED node is delegated").
struct ClaimSummary {
  int nodes_total = 0;
  int nodes_claimed = 0;
  std::vector<std::string> declined;  // "node 3 (CONV_2D): <why>"
};

class Delegate {
 public:
  explicit Delegate(const DelegateOptions& options);

  TfLiteDelegate* tflite_delegate() { return &delegate_; }
  const DelegateOptions& options() const { return options_; }
  ClaimSummary last_claim() const;
  // Where partitions add their op times (only when options().profile).
  OpProfile& op_profile() { return op_profile_; }
  const OpProfile& op_profile() const { return op_profile_; }

  static Delegate* FromTfLite(TfLiteDelegate* delegate) {
    return static_cast<Delegate*>(delegate->data_);
  }

 private:
  static TfLiteStatus PrepareThunk(TfLiteContext* context, TfLiteDelegate* delegate);
  TfLiteStatus Prepare(TfLiteContext* context);

  TfLiteDelegate delegate_{};
  DelegateOptions options_;
  mutable std::mutex mutex_;  // one delegate may serve interpreters in several threads
  ClaimSummary last_claim_;
  OpProfile op_profile_;
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_DELEGATE_H_
