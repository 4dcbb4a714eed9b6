// The CPU features the kernels dispatch on. Under qemu-x86_64 -cpu <model>
// (tools/run_tests.sh) $TFQ_EXPECT_CPU_FEATURES names what that model must
// yield, so the fallback runs are known to take the fallback paths.
#include "delegates/cpu_features.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace tfq {
namespace {

TEST(CpuFeatures, DetectedAsExpected) {
  const std::string detected = GetCpuFeatures().ToString();
  std::printf("cpu features: %s\n", detected.c_str());
  const char* expected = std::getenv("TFQ_EXPECT_CPU_FEATURES");
  if (expected != nullptr) {
    EXPECT_EQ(detected, expected);
  }
  // AVX-512 kernels need AVX2's too; VNNI needs AVX-512.
  const CpuFeatures& features = GetCpuFeatures();
  if (features.avx512) {
    EXPECT_TRUE(features.avx2);
  }
  if (features.avx512_vnni) {
    EXPECT_TRUE(features.avx512);
  }
}

}  // namespace
}  // namespace tfq
