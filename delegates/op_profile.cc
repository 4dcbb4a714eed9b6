#include "delegates/op_profile.h"

namespace tfq {

void OpProfile::Add(const std::string& op, const std::string& path, int64_t nanoseconds,
                    int64_t macs) {
  std::lock_guard<std::mutex> lock(mutex_);
  Totals& totals = totals_[{op, path}];
  ++totals.invocations;
  totals.nanoseconds += nanoseconds;
  totals.macs += macs;
}

std::string OpProfile::Lines() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string lines;
  for (const auto& [key, totals] : totals_) {
    lines += key.first + " " + key.second + " " + std::to_string(totals.invocations) + " " +
             std::to_string(totals.nanoseconds) + " " + std::to_string(totals.macs) + "\n";
  }
  return lines;
}

}  // namespace tfq
