// Delegate options, as given to tflite_plugin_create_delegate (string keys and
// values from Python's load_delegate, benchmark_model's
// --external_delegate_options, or a C++ app).
#ifndef TFQ_DELEGATES_OPTIONS_H_
#define TFQ_DELEGATES_OPTIONS_H_

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "delegates/log.h"

namespace tfq {

struct DelegateOptions {
  // 0 = follow the interpreter's num_threads (context->recommended_num_threads).
  int num_threads = 0;
  LogLevel log_level = LogLevel::kWarning;
  // Builtin op names (e.g. "FULLY_CONNECTED"). Empty allow list = all supported.
  std::set<std::string> allow_ops;
  std::set<std::string> deny_ops;
  // Test mode: fail Prepare, naming the node, when any node cannot be claimed.
  bool claim_all = false;
  // Time every delegated op (tfq-bench's per-op profile); off by default.
  bool profile = false;
  // Cap on the kernels' path (cpu_features.h): "" = $TFQ_ISA, else the
  // CPU's best. Per process: applied by the plugin through SetProcessIsa.
  std::string isa;
};

// Parses `count` key/value pairs. `supported_ops` are the op names accepted in
// allow_ops/deny_ops. On failure returns false and sets `error` to one line
// naming the option, the bad value and the accepted values.
bool ParseDelegateOptions(const char* const* keys, const char* const* values,
                          size_t count,
                          const std::vector<std::string>& supported_ops,
                          DelegateOptions* options, std::string* error);

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPTIONS_H_
