#include "delegates/log.h"

#include <cstdarg>
#include <cstdio>

namespace tfq {

void Log(LogLevel threshold, LogLevel level, const char* format, ...) {
  if (level > threshold || level == LogLevel::kSilent) return;
  static const char* const kNames[] = {"", "error", "warning", "info", "verbose"};
  char message[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  // One fprintf per line so lines from two threads do not interleave.
  std::fprintf(stderr, "tfq %s: %s\n", kNames[static_cast<int>(level)], message);
}

}  // namespace tfq
