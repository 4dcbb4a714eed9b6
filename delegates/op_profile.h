// Time per op type inside the delegate (option profile=true): what tfq-bench
// prints as the delegate's per-op profile. Partitions add to their
// delegate's profile after each op; reading it takes a snapshot.
#ifndef TFQ_DELEGATES_OP_PROFILE_H_
#define TFQ_DELEGATES_OP_PROFILE_H_

#include <cstdint>
#include <map>
#include <utility>
#include <mutex>
#include <string>

namespace tfq {

class OpProfile {
 public:
  // One invocation of an op of type `op` that ran kernel path `path` and
  // did `macs` multiply-accumulates. The partition reports the time it
  // spends outside its ops (the per-node fixed cost) as op "(partition)",
  // path "-", and `macs` then counts the nodes it ran.
  void Add(const std::string& op, const std::string& path, int64_t nanoseconds, int64_t macs);
  // One line per op type and path, by name:
  // "<op name> <path> <invocations> <nanoseconds> <macs>\n".
  std::string Lines() const;

 private:
  struct Totals {
    int64_t invocations = 0;
    int64_t nanoseconds = 0;
    int64_t macs = 0;
  };
  mutable std::mutex mutex_;  // interpreters in several threads may share a delegate
  std::map<std::pair<std::string, std::string>, Totals> totals_;
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_OP_PROFILE_H_
