#include "delegates/options.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace tfq {
namespace {

constexpr const char* kKnownKeys =
    "num_threads, log_level, allow_ops, deny_ops, claim_all, profile, isa";
constexpr int kMaxThreads = 256;

bool ParseNumThreads(const std::string& value, int* out, std::string* error) {
  char* end = nullptr;
  errno = 0;
  const long parsed = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || parsed < 0 ||
      parsed > kMaxThreads) {
    *error = "option num_threads: expected an integer from 0 (use the "
             "interpreter's num_threads) to " + std::to_string(kMaxThreads) +
             ", got '" + value + "'";
    return false;
  }
  *out = static_cast<int>(parsed);
  return true;
}

bool ParseLogLevel(const std::string& value, LogLevel* out, std::string* error) {
  static const struct { const char* name; LogLevel level; } kLevels[] = {
      {"silent", LogLevel::kSilent}, {"error", LogLevel::kError},
      {"warning", LogLevel::kWarning}, {"info", LogLevel::kInfo},
      {"verbose", LogLevel::kVerbose}};
  for (const auto& entry : kLevels) {
    if (value == entry.name) {
      *out = entry.level;
      return true;
    }
  }
  *error = "option log_level: expected one of silent, error, warning, info, "
           "verbose, got '" + value + "'";
  return false;
}

bool ParseBool(const std::string& key, const std::string& value, bool* out,
               std::string* error) {
  if (value == "true" || value == "True" || value == "1") {
    *out = true;
    return true;
  }
  if (value == "false" || value == "False" || value == "0") {
    *out = false;
    return true;
  }
  *error = "option " + key + ": expected true or false, got '" + value + "'";
  return false;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ",") + name;
  return joined;
}

// "A,B" -> {A, B}; every name must be one of `supported_ops`.
bool ParseOpList(const std::string& key, const std::string& value,
                 const std::vector<std::string>& supported_ops,
                 std::set<std::string>* out, std::string* error) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    const std::string name = value.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    bool known = false;
    for (const std::string& op : supported_ops) known = known || op == name;
    if (!known) {
      *error = "option " + key + ": '" + name + "' is not an op the tfq "
               "delegate supports; supported ops: " + JoinNames(supported_ops);
      return false;
    }
    out->insert(name);
  }
  return true;
}

}  // namespace

bool ParseDelegateOptions(const char* const* keys, const char* const* values,
                          size_t count,
                          const std::vector<std::string>& supported_ops,
                          DelegateOptions* options, std::string* error) {
  for (size_t i = 0; i < count; ++i) {
    if (keys[i] == nullptr || values[i] == nullptr) {
      *error = "option #" + std::to_string(i) + " has a null key or value";
      return false;
    }
    const std::string key = keys[i];
    const std::string value = values[i];
    bool ok = true;
    if (key == "num_threads") {
      ok = ParseNumThreads(value, &options->num_threads, error);
    } else if (key == "log_level") {
      ok = ParseLogLevel(value, &options->log_level, error);
    } else if (key == "allow_ops") {
      ok = ParseOpList(key, value, supported_ops, &options->allow_ops, error);
    } else if (key == "deny_ops") {
      ok = ParseOpList(key, value, supported_ops, &options->deny_ops, error);
    } else if (key == "claim_all") {
      ok = ParseBool(key, value, &options->claim_all, error);
    } else if (key == "profile") {
      ok = ParseBool(key, value, &options->profile, error);
    } else if (key == "isa") {
      // Checked against the CPU when the plugin applies it (SetProcessIsa).
      options->isa = value;
    } else {
      *error = "unknown option '" + key + "'; known options: " + kKnownKeys;
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace tfq
