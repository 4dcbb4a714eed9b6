// Delegate logging to stderr, filtered by the `log_level` option.
#ifndef TFQ_DELEGATES_LOG_H_
#define TFQ_DELEGATES_LOG_H_

namespace tfq {

enum class LogLevel { kSilent = 0, kError = 1, kWarning = 2, kInfo = 3, kVerbose = 4 };

// printf-style; prints "tfq <level>: <message>\n" when `level` <= `threshold`.
void Log(LogLevel threshold, LogLevel level, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace tfq

#endif  // TFQ_DELEGATES_LOG_H_
