#include "delegates/cpu_features.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tfq {
namespace {

CpuFeatures Detect() {
  CpuFeatures features;
#if defined(__x86_64__)
  __builtin_cpu_init();
  features.avx2 = __builtin_cpu_supports("avx2");
  features.avx512 = __builtin_cpu_supports("avx512f") &&
                    __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl");
  features.avx512_vnni = features.avx512 && __builtin_cpu_supports("avx512vnni");
#elif defined(__aarch64__)
  features.neon = true;  // mandatory in AArch64
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
#ifdef HWCAP_ASIMDDP
  features.neon_dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
#endif
#ifdef HWCAP2_I8MM
  features.neon_i8mm = (hwcap2 & HWCAP2_I8MM) != 0;
#endif
  (void)hwcap;
  (void)hwcap2;
#endif
#endif
  return features;
}

}  // namespace

std::string CpuFeatures::ToString() const {
  std::string out;
  auto add = [&out](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2, "avx2");
  add(avx512, "avx512");
  add(avx512_vnni, "avx512_vnni");
  add(neon, "neon");
  add(neon_dotprod, "neon_dotprod");
  add(neon_i8mm, "neon_i8mm");
  return out.empty() ? "scalar only" : out;
}

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();  // thread-safe static init
  return features;
}

}  // namespace tfq
