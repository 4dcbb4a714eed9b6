// Run-time checks that the TFLite runtime we were loaded into lays out its
// structs as tflite_abi.h declares. The static_asserts there pin our side;
// these catch a different runtime (e.g. a newer TFLite whose TfLiteFloatArray
// changed). On a mismatch the delegate claims nothing and logs why.
#ifndef TFQ_DELEGATES_ABI_CHECKS_H_
#define TFQ_DELEGATES_ABI_CHECKS_H_

#include <string>

#include "delegates/tflite_abi.h"

namespace tfq {

// Returns true if every check passes; otherwise sets `why`.
bool CheckRuntimeAbi(TfLiteContext* context, std::string* why);

}  // namespace tfq

#endif  // TFQ_DELEGATES_ABI_CHECKS_H_
