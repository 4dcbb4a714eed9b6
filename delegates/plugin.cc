#include "delegates/plugin.h"

#include <cstring>
#include <new>
#include <set>
#include <string>

#include "delegates/cpu_features.h"
#include "delegates/delegate.h"
#include "delegates/log.h"
#include "delegates/ops/op_table.h"

namespace {

// Delegates this library created: the C API refuses any other pointer
// instead of reading foreign memory.
std::mutex g_live_mutex;
std::set<const TfLiteDelegate*> g_live;

const tfq::Delegate* FindLive(const TfLiteDelegate* delegate) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  if (delegate == nullptr || g_live.count(delegate) == 0) return nullptr;
  return static_cast<const tfq::Delegate*>(delegate->data_);
}

void Report(void (*report_error)(const char*), const std::string& message) {
  if (report_error != nullptr) report_error(message.c_str());
}

// Copies `text` into `buffer` (NUL-terminated, truncated to `size`); returns
// its full length, so a caller can size the buffer with a first NULL call.
long CopyOut(const std::string& text, char* buffer, size_t size) {
  if (buffer != nullptr && size > 0) {
    const size_t n = text.size() < size - 1 ? text.size() : size - 1;
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
  }
  return static_cast<long>(text.size());
}

}  // namespace

extern "C" {

TfLiteDelegate* tflite_plugin_create_delegate(const char* const* options_keys,
                                              const char* const* options_values,
                                              size_t num_options,
                                              void (*report_error)(const char*)) {
  try {
    if (num_options > 0 && (options_keys == nullptr || options_values == nullptr)) {
      Report(report_error, "tfq delegate: options arrays are null");
      return nullptr;
    }
    tfq::DelegateOptions options;
    std::string error;
    if (!tfq::ParseDelegateOptions(options_keys, options_values, num_options,
                                   tfq::SupportedOpNames(), &options, &error)) {
      Report(report_error, "tfq delegate: " + error);
      return nullptr;
    }
    if (!tfq::SetProcessIsa(options.isa, &error)) {
      Report(report_error, "tfq delegate: option " + error);
      return nullptr;
    }
    auto* delegate = new tfq::Delegate(options);
    tfq::Log(options.log_level, tfq::LogLevel::kInfo,
             "delegate created; cpu features: %s; kernel path: %s",
             tfq::DetectedCpuFeatures().ToString().c_str(),
             tfq::GetCpuFeatures().BestPath().c_str());
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.insert(delegate->tflite_delegate());
    return delegate->tflite_delegate();
  } catch (const std::exception& e) {  // never let an exception cross the C ABI
    Report(report_error, std::string("tfq delegate: ") + e.what());
    return nullptr;
  }
}

void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  if (FindLive(delegate) == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.erase(delegate);
  }
  delete tfq::Delegate::FromTfLite(delegate);
}

const char* tfq_delegate_cpu_features(void) {
  static const std::string features = tfq::DetectedCpuFeatures().ToString();
  return features.c_str();
}

const char* tfq_delegate_isa(void) {
  static const std::string path = tfq::GetCpuFeatures().BestPath();  // fixed once chosen
  return path.c_str();
}

int tfq_delegate_last_claim(const TfLiteDelegate* delegate, int* nodes_total,
                            int* nodes_claimed) {
  const tfq::Delegate* live = FindLive(delegate);
  if (live == nullptr) return -1;
  const tfq::ClaimSummary summary = live->last_claim();
  if (nodes_total) *nodes_total = summary.nodes_total;
  if (nodes_claimed) *nodes_claimed = summary.nodes_claimed;
  return 0;
}

long tfq_delegate_declined_nodes(const TfLiteDelegate* delegate, char* buffer, size_t size) {
  const tfq::Delegate* live = FindLive(delegate);
  if (live == nullptr) return -1;
  std::string joined;
  for (const std::string& line : live->last_claim().declined) joined += line + "\n";
  return CopyOut(joined, buffer, size);
}

long tfq_delegate_op_profile(const TfLiteDelegate* delegate, char* buffer, size_t size) {
  const tfq::Delegate* live = FindLive(delegate);
  if (live == nullptr) return -1;
  return CopyOut(live->op_profile().Lines(), buffer, size);
}

}  // extern "C"
