// Time per op type inside the delegate (option profile=true): what tfq-bench
// prints as the delegate's per-op profile. Partitions add to their
// delegate's profile after each op; reading it takes a snapshot.
#ifndef TFQ_DELEGATES_OP_PROFILE_H_
#define TFQ_DELEGATES_OP_PROFILE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace tfq {

class OpProfile {
 public:
  void Add(const std::string& op, int64_t nanoseconds);
  // One line per op type: "<op name> <invocations> <nanoseconds>\n", by name.
  std::string Lines() const;

 private:
  struct Totals {
    int64_t invocations = 0;
    int64_t nanoseconds = 0;
  };
  mutable std::mutex mutex_;  // interpreters in several threads may share a delegate
  std::map<std::string, Totals> totals_;
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_OP_PROFILE_H_
