// The CPU features the kernels dispatch on, and the ISA cap. Under
// qemu-x86_64 -cpu <model> (tools/run_tests.sh) $TFQ_EXPECT_CPU_FEATURES
// names what that model must yield, so the fallback runs are known to take
// the fallback paths.
#include "delegates/cpu_features.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace tfq {
namespace {

TEST(CpuFeatures, DetectedAsExpected) {
  const std::string detected = DetectedCpuFeatures().ToString();
  std::printf("cpu features: %s\n", detected.c_str());
  const char* expected = std::getenv("TFQ_EXPECT_CPU_FEATURES");
  if (expected != nullptr) {
    EXPECT_EQ(detected, expected);
  }
  // AVX-512 kernels need AVX2's too; VNNI needs AVX-512; AMX's epilogue VNNI's.
  const CpuFeatures& features = DetectedCpuFeatures();
  if (features.avx512) {
    EXPECT_TRUE(features.avx2);
  }
  if (features.avx512_vnni) {
    EXPECT_TRUE(features.avx512);
  }
  if (features.amx) {
    EXPECT_TRUE(features.avx512_vnni);
  }
}

#if !defined(__aarch64__)
CpuFeatures AllX86() {
  CpuFeatures all;
  all.avx2 = all.avx512 = all.avx512_vnni = all.amx = true;
  return all;
}

TEST(CpuFeatures, CapDropsEveryPathAboveTheOneNamed) {
  struct Case {
    const char* isa;
    const char* features;
  } cases[] = {{"amx", "avx2 avx512 avx512_vnni amx"},
               {"avx512_vnni", "avx2 avx512 avx512_vnni"},
               {"avx512", "avx2 avx512"},
               {"avx2", "avx2"},
               {"scalar", "scalar only"},
               {"auto", "avx2 avx512 avx512_vnni amx"},
               {"", "avx2 avx512 avx512_vnni amx"}};
  for (const Case& c : cases) {
    CpuFeatures capped;
    std::string error;
    ASSERT_TRUE(CapCpuFeatures(AllX86(), c.isa, &capped, &error)) << c.isa << ": " << error;
    EXPECT_EQ(capped.ToString(), c.features) << c.isa;
    if (std::string(c.isa) != "" && std::string(c.isa) != "auto") {
      EXPECT_EQ(capped.BestPath(), c.isa);
    }
  }
}

TEST(CpuFeatures, CapNamesWhatTheCpuHasWhenAPathIsMissing) {
  CpuFeatures zen5 = AllX86();  // AVX-512 VNNI, no AMX
  zen5.amx = false;
  CpuFeatures capped;
  std::string error;
  EXPECT_FALSE(CapCpuFeatures(zen5, "amx", &capped, &error));
  EXPECT_EQ(error, "isa=amx: this CPU lacks it; it has avx2 avx512 avx512_vnni "
                   "(best path avx512_vnni)");
  EXPECT_FALSE(CapCpuFeatures(CpuFeatures(), "avx2", &capped, &error));
  EXPECT_EQ(error, "isa=avx2: this CPU lacks it; it has scalar only (best path scalar)");
  EXPECT_FALSE(CapCpuFeatures(zen5, "sse4", &capped, &error));
  EXPECT_EQ(error, "isa: expected one of auto, amx, avx512_vnni, avx512, avx2, scalar, "
                   "got 'sse4'");
  EXPECT_FALSE(CapCpuFeatures(zen5, "neon", &capped, &error));  // not a path on x86
}

// The cap is per process: the first request fixes it, the same one or
// "auto" later is accepted, another path is refused naming the one in
// effect. (This test owns its process's cap: nothing else here asks for one.)
TEST(CpuFeatures, ProcessCapIsFixedByTheFirstRequest) {
  if (!DetectedCpuFeatures().avx2) GTEST_SKIP() << "needs a CPU with AVX2 to cap below it";
  std::string error;
  ASSERT_TRUE(SetProcessIsa("avx2", &error)) << error;
  EXPECT_EQ(GetCpuFeatures().BestPath(), "avx2");
  EXPECT_FALSE(GetCpuFeatures().avx512);
  EXPECT_TRUE(SetProcessIsa("avx2", &error)) << error;
  EXPECT_TRUE(SetProcessIsa("auto", &error)) << error;
  EXPECT_FALSE(SetProcessIsa("scalar", &error));
  EXPECT_NE(error.find("already runs tfq's kernels on the avx2 path"), std::string::npos)
      << error;
  EXPECT_EQ(GetCpuFeatures().BestPath(), "avx2");
}
#endif

}  // namespace
}  // namespace tfq
