#include "delegates/delegate.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <utility>

#include "delegates/abi_checks.h"
#include "delegates/log.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

constexpr const char* kPartitionName = "TfqDelegate";

// One delegated partition: the ops of the nodes TFLite replaced by a single
// DELEGATE node, run in execution-plan order.
class Partition {
 public:
  // `profile`: the delegate's, when ops are to be timed; else nullptr.
  Partition(TfLiteContext* context, LogLevel log_level, int num_threads, OpProfile* profile)
      : tensors_(context), log_level_(log_level), num_threads_(num_threads), profile_(profile) {}

  bool Init(TfLiteContext* context, const TfLiteDelegateParams& params) {
    for (int i = 0; i < params.nodes_to_replace->size; ++i) {
      const int node_index = params.nodes_to_replace->data[i];
      TfLiteNode* node = nullptr;
      TfLiteRegistration* registration = nullptr;
      std::string why;
      const OpSupport* support = nullptr;
      if (context->GetNodeAndRegistration(context, node_index, &node, &registration) ==
              kTfLiteOk &&
          (support = FindOp(registration->builtin_code)) != nullptr) {
        std::unique_ptr<DelegatedOp> op = support->parse(NodeView(context, node, registration), &why);
        if (op) {
          ops_.push_back(std::move(op));
          op_names_.push_back(support->name);
          continue;
        }
      }
      Log(log_level_, LogLevel::kError, "node %d can no longer be built: %s", node_index,
          why.c_str());
      return false;
    }
    outputs_.assign(params.output_tensors->data,
                    params.output_tensors->data + params.output_tensors->size);
    // Each tensor an op produces lives from its producer to its last reader.
    std::map<int, std::pair<int, int>> lifetimes;
    for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
      for (int t : ops_[i]->output_tensors()) lifetimes.emplace(t, std::make_pair(i, i));
    }
    for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
      for (int t : ops_[i]->input_tensors()) {
        auto it = lifetimes.find(t);
        if (it != lifetimes.end()) it->second.second = std::max(it->second.second, i);
      }
    }
    for (const auto& [t, lifetime] : lifetimes) {
      if (std::find(outputs_.begin(), outputs_.end(), t) == outputs_.end()) {
        tensors_.MarkOwned(t, lifetime.first, lifetime.second);
      }
    }
    return true;
  }

  TfLiteStatus Prepare(TfLiteContext* context) {
    // num_threads 0 follows the interpreter's setting (-1 there: unset).
    const int threads = num_threads_ > 0 ? num_threads_
                                         : std::max(1, context->recommended_num_threads);
    if (pool_ == nullptr || pool_->num_threads() != threads) {
      pool_ = std::make_unique<ThreadPool>(threads);
      tensors_.set_pool(pool_.get());
    }
    // Inputs of the partition come from the runtime; the ops derive the rest.
    for (const auto& op : ops_) {
      for (int t : op->input_tensors()) {
        if (t >= 0 && !tensors_.owned(t)) tensors_.set_shape(t, ShapeOf(context->tensors[t].dims));
      }
    }
    for (const auto& op : ops_) {
      std::string why;
      if (!op->Prepare(&tensors_, &why)) {
        context->ReportError(context, "tfq delegate: %s", why.c_str());
        return kTfLiteError;
      }
    }
    for (int t : outputs_) {
      const Shape& shape = tensors_.shape(t);
      if (ShapeOf(context->tensors[t].dims) == shape) continue;
      // ResizeTensor takes ownership of a malloc'ed array (what
      // TfLiteIntArrayCreate returns; the runtime frees it with free()).
      auto* dims = static_cast<TfLiteIntArray*>(
          std::malloc(sizeof(TfLiteIntArray) + sizeof(int) * shape.size()));
      if (dims == nullptr) return kTfLiteError;
      dims->size = static_cast<int>(shape.size());
      std::copy(shape.begin(), shape.end(), dims->data);
      if (context->ResizeTensor(context, &context->tensors[t], dims) != kTfLiteOk) {
        context->ReportError(context, "tfq delegate: cannot resize output tensor %d to %s", t,
                             ShapeToString(shape).c_str());
        return kTfLiteError;
      }
    }
    tensors_.AllocateOwned();
    return kTfLiteOk;
  }

  TfLiteStatus Invoke() {
    if (profile_ == nullptr) {
      for (const auto& op : ops_) op->Invoke(&tensors_);
      return kTfLiteOk;
    }
    using Clock = std::chrono::steady_clock;
    auto nanoseconds = [](Clock::duration d) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    };
    // Recorded after the loop, so the profile's own bookkeeping is not
    // charged to the partition's time between ops.
    spent_.resize(ops_.size());
    const auto partition_start = Clock::now();
    int64_t in_ops = 0;
    for (size_t i = 0; i < ops_.size(); ++i) {
      const auto start = Clock::now();
      ops_[i]->Invoke(&tensors_);
      spent_[i] = nanoseconds(Clock::now() - start);
      in_ops += spent_[i];
    }
    const int64_t between_ops = nanoseconds(Clock::now() - partition_start) - in_ops;
    for (size_t i = 0; i < ops_.size(); ++i) {
      profile_->Add(op_names_[i], ops_[i]->kernel_path(), spent_[i], ops_[i]->macs());
    }
    profile_->Add("(partition)", "-", between_ops, static_cast<int64_t>(ops_.size()));
    return kTfLiteOk;
  }

 private:
  std::vector<std::unique_ptr<DelegatedOp>> ops_;
  std::vector<std::string> op_names_;  // builtin op name of each of ops_
  std::vector<int> outputs_;
  PartitionTensors tensors_;
  LogLevel log_level_;
  int num_threads_;  // the delegate option
  OpProfile* profile_;
  std::vector<int64_t> spent_;  // with profile_: each op's nanoseconds in this invoke
  std::unique_ptr<ThreadPool> pool_;
};

void* PartitionInit(TfLiteContext* context, const char* buffer, size_t length) {
  const auto* params = reinterpret_cast<const TfLiteDelegateParams*>(buffer);
  Delegate* delegate = Delegate::FromTfLite(params->delegate);
  auto partition = std::make_unique<Partition>(
      context, delegate->options().log_level, delegate->options().num_threads,
      delegate->options().profile ? &delegate->op_profile() : nullptr);
  if (!partition->Init(context, *params)) return nullptr;
  return partition.release();
}

void PartitionFree(TfLiteContext* context, void* buffer) {
  delete static_cast<Partition*>(buffer);
}

TfLiteStatus PartitionPrepare(TfLiteContext* context, TfLiteNode* node) {
  auto* partition = static_cast<Partition*>(node->user_data);
  if (partition == nullptr) {
    context->ReportError(context, "tfq delegate: partition failed to initialize");
    return kTfLiteError;
  }
  return partition->Prepare(context);
}

TfLiteStatus PartitionInvoke(TfLiteContext* context, TfLiteNode* node) {
  return static_cast<Partition*>(node->user_data)->Invoke();
}

bool OpEnabled(const DelegateOptions& options, const char* name) {
  if (!options.allow_ops.empty() && options.allow_ops.count(name) == 0) return false;
  return options.deny_ops.count(name) == 0;
}

// A node whose op parses may still be unrunnable at the model's shapes (an
// input depth that does not fit the filter, a window larger than the
// input): prepare it once on those shapes, so it is declined, not claimed
// only to fail in the partition's prepare. `claimed` carries what the nodes
// claimed before it computed (in execution order, as the partition will):
// shapes, and the values of shape arithmetic a RESHAPE may take its shape from.
bool RunsWithCurrentShapes(TfLiteContext* context, DelegatedOp* op, PartitionTensors* claimed,
                           std::string* why) {
  for (int t : op->input_tensors()) {
    if (t >= 0 && !claimed->has_shape(t)) claimed->set_shape(t, ShapeOf(context->tensors[t].dims));
  }
  if (op->Prepare(claimed, why)) return true;
  for (int t : op->output_tensors()) claimed->Forget(t);
  return false;
}

}  // namespace

Delegate::Delegate(const DelegateOptions& options) : options_(options) {
  delegate_.data_ = this;
  delegate_.Prepare = &Delegate::PrepareThunk;
  // Keras 3 models with a dynamic batch have dynamic-sized int32 shape
  // tensors; without this flag allocate_tensors fails on them.
  delegate_.flags = kTfLiteDelegateFlagsAllowDynamicTensors;
}

ClaimSummary Delegate::last_claim() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_claim_;
}

TfLiteStatus Delegate::PrepareThunk(TfLiteContext* context, TfLiteDelegate* delegate) {
  return FromTfLite(delegate)->Prepare(context);
}

TfLiteStatus Delegate::Prepare(TfLiteContext* context) {
  ClaimSummary summary;
  std::string why;
  if (!CheckRuntimeAbi(context, &why)) {
    Log(options_.log_level, LogLevel::kWarning, "claiming no nodes: %s", why.c_str());
    std::lock_guard<std::mutex> lock(mutex_);
    last_claim_ = summary;
    return kTfLiteOk;
  }
  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == nullptr) {
    Log(options_.log_level, LogLevel::kWarning, "claiming no nodes: no execution plan");
    return kTfLiteOk;
  }
  std::vector<int> claimed;
  PartitionTensors claimed_tensors(context);
  ThreadPool one_thread(1);  // sizes scratch only; no worker starts
  claimed_tensors.set_pool(&one_thread);
  for (int i = 0; i < plan->size; ++i) {
    const int node_index = plan->data[i];
    TfLiteNode* node = nullptr;
    TfLiteRegistration* registration = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &registration) !=
        kTfLiteOk) {
      continue;
    }
    ++summary.nodes_total;
    const OpSupport* support = FindOp(registration->builtin_code);
    std::string reason;
    if (support == nullptr) {
      reason = "builtin op " + std::to_string(registration->builtin_code) +
               " is not supported by tfq";
    } else if (!OpEnabled(options_, support->name)) {
      reason = std::string(support->name) + " is excluded by allow_ops/deny_ops";
    } else {
      std::unique_ptr<DelegatedOp> op =
          support->parse(NodeView(context, node, registration), &reason);
      if (op == nullptr) {
        reason = std::string(support->name) + " " + reason;
      } else if (RunsWithCurrentShapes(context, op.get(), &claimed_tensors, &reason)) {
        claimed.push_back(node_index);
        continue;
      }
    }
    const std::string line = "node " + std::to_string(node_index) + ": " + reason;
    Log(options_.log_level, LogLevel::kVerbose, "declined %s", line.c_str());
    summary.declined.push_back(line);
  }
  if (options_.claim_all && !summary.declined.empty()) {
    context->ReportError(context, "tfq delegate (claim_all): cannot claim %s",
                         summary.declined.front().c_str());
    return kTfLiteError;
  }
  summary.nodes_claimed = static_cast<int>(claimed.size());
  Log(options_.log_level, LogLevel::kInfo, "claimed %d of %d nodes", summary.nodes_claimed,
      summary.nodes_total);
  TfLiteStatus status = kTfLiteOk;
  if (!claimed.empty()) {
    TfLiteRegistration registration{};  // zeroed: the runtime reads every field
    registration.init = &PartitionInit;
    registration.free = &PartitionFree;
    registration.prepare = &PartitionPrepare;
    registration.invoke = &PartitionInvoke;
    registration.builtin_code = kBuiltinDelegate;
    registration.custom_name = kPartitionName;
    registration.version = 1;
    std::vector<int> nodes(claimed.size() + 1);
    nodes[0] = static_cast<int>(claimed.size());
    std::copy(claimed.begin(), claimed.end(), nodes.begin() + 1);
    status = context->ReplaceNodeSubsetsWithDelegateKernels(
        context, registration, reinterpret_cast<const TfLiteIntArray*>(nodes.data()),
        &delegate_);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  last_claim_ = summary;
  return status;
}

}  // namespace tfq
