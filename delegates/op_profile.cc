#include "delegates/op_profile.h"

namespace tfq {

void OpProfile::Add(const std::string& op, int64_t nanoseconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  Totals& totals = totals_[op];
  ++totals.invocations;
  totals.nanoseconds += nanoseconds;
}

std::string OpProfile::Lines() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string lines;
  for (const auto& [op, totals] : totals_) {
    lines += op + " " + std::to_string(totals.invocations) + " " +
             std::to_string(totals.nanoseconds) + "\n";
  }
  return lines;
}

}  // namespace tfq
