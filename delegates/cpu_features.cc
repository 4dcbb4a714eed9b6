#include "delegates/cpu_features.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tfq {
namespace {

// A path and the feature it adds to the ones below it.
struct Path {
  const char* name;
  bool CpuFeatures::*feature;  // nullptr: the baseline, always there
};

#if defined(__aarch64__)
constexpr Path kPaths[] = {{"neon", nullptr},
                           {"neon_dotprod", &CpuFeatures::neon_dotprod},
                           {"neon_i8mm", &CpuFeatures::neon_i8mm}};
constexpr const char* kIsaNames = "neon_i8mm, neon_dotprod, neon";
#else
constexpr Path kPaths[] = {{"scalar", nullptr},
                           {"avx2", &CpuFeatures::avx2},
                           {"avx512", &CpuFeatures::avx512},
                           {"avx512_vnni", &CpuFeatures::avx512_vnni},
                           {"amx", &CpuFeatures::amx}};
constexpr const char* kIsaNames = "amx, avx512_vnni, avx512, avx2, scalar";
#endif
constexpr int kNumPaths = sizeof(kPaths) / sizeof(kPaths[0]);

CpuFeatures Detect() {
  CpuFeatures features;
#if defined(__x86_64__)
  __builtin_cpu_init();
  features.avx2 = __builtin_cpu_supports("avx2");
  features.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  features.avx512_vnni = features.avx512 && __builtin_cpu_supports("avx512vnni");
#if defined(__GNUC__)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    // AMX-TILE (edx bit 24) and AMX-INT8 (bit 25); the epilogue is AVX-512.
    features.amx = features.avx512_vnni && ((edx >> 24) & 1) && ((edx >> 25) & 1);
  }
#endif
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

// Linux grants a process AMX's tile state only when asked (arch_prctl
// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); tile instructions fault otherwise.
bool RequestAmxTileState() {
#if defined(__x86_64__) && defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// The index in kPaths of the best path `features` allow.
int BestPathIndex(const CpuFeatures& features) {
  int best = 0;
  for (int i = 1; i < kNumPaths; ++i) {
    if (features.*kPaths[i].feature) best = i;
  }
  return best;
}

struct ProcessCap {
  std::mutex mutex;
  std::atomic<bool> fixed{false};  // set once, after `capped`
  CpuFeatures capped;
};

ProcessCap& Cap() {
  static ProcessCap cap;
  return cap;
}

// Fixes `cap` at `isa` (caller holds the mutex).
bool FixLocked(ProcessCap& cap, const std::string& isa, std::string* error) {
  CpuFeatures capped;
  if (!CapCpuFeatures(DetectedCpuFeatures(), isa, &capped, error)) return false;
  if (capped.amx && !RequestAmxTileState()) {
    if (isa == "amx") {
      *error = "isa=amx: the CPU has AMX-INT8 but Linux refused this process the AMX tile "
               "state (arch_prctl ARCH_REQ_XCOMP_PERM); use isa=avx512_vnni";
      return false;
    }
    capped.amx = false;
  }
  cap.capped = capped;
  cap.fixed.store(true, std::memory_order_release);
  return true;
}

std::string EnvironmentIsa() {
  const char* value = std::getenv("TFQ_ISA");
  return value != nullptr ? value : "";
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
  add(amx, "amx");
  add(neon, "neon");
  add(neon_dotprod, "neon_dotprod");
  add(neon_i8mm, "neon_i8mm");
  return out.empty() ? "scalar only" : out;
}

std::string CpuFeatures::BestPath() const { return kPaths[BestPathIndex(*this)].name; }

const char* IsaNames() { return kIsaNames; }

bool CapCpuFeatures(const CpuFeatures& detected, const std::string& isa, CpuFeatures* capped,
                    std::string* error) {
  *capped = detected;
  if (isa.empty() || isa == "auto") return true;
  int level = -1;
  for (int i = 0; i < kNumPaths; ++i) {
    if (isa == kPaths[i].name) level = i;
  }
  if (level < 0) {
    *error = "isa: expected one of auto, " + std::string(kIsaNames) + ", got '" + isa + "'";
    return false;
  }
  if (level > BestPathIndex(detected)) {
    *error = "isa=" + isa + ": this CPU lacks it; it has " + detected.ToString() +
             " (best path " + detected.BestPath() + ")";
    return false;
  }
  for (int i = level + 1; i < kNumPaths; ++i) capped->*kPaths[i].feature = false;
  return true;
}

const CpuFeatures& DetectedCpuFeatures() {
  static const CpuFeatures features = Detect();  // thread-safe static init
  return features;
}

const CpuFeatures& GetCpuFeatures() {
  ProcessCap& cap = Cap();
  if (cap.fixed.load(std::memory_order_acquire)) return cap.capped;
  std::lock_guard<std::mutex> lock(cap.mutex);
  if (!cap.fixed.load(std::memory_order_relaxed)) {
    std::string error;
    if (!FixLocked(cap, EnvironmentIsa(), &error)) {
      // Only kernels called without a delegate get here ($TFQ_ISA bad): say
      // so once and run uncapped; a delegate reports it as an error instead.
      std::fprintf(stderr, "tfq: $TFQ_ISA ignored: %s\n", error.c_str());
      FixLocked(cap, "", &error);
    }
  }
  return cap.capped;
}

bool SetProcessIsa(const std::string& isa, std::string* error) {
  ProcessCap& cap = Cap();
  std::lock_guard<std::mutex> lock(cap.mutex);
  const bool named = !isa.empty() && isa != "auto";
  if (!cap.fixed.load(std::memory_order_relaxed)) {
    const std::string requested = named ? isa : EnvironmentIsa();
    if (!FixLocked(cap, requested, error)) {
      if (!named) *error = "$TFQ_ISA: " + *error;
      return false;
    }
    return true;
  }
  if (!named) return true;  // whatever is in effect
  CpuFeatures wanted;
  if (!CapCpuFeatures(DetectedCpuFeatures(), isa, &wanted, error)) return false;
  if (wanted.BestPath() == cap.capped.BestPath()) return true;
  *error = "isa=" + isa + ": this process already runs tfq's kernels on the " +
           cap.capped.BestPath() + " path, and kernels chosen cannot change (the cap is per "
           "process, fixed by the first delegate, $TFQ_ISA or the first kernel run); run each "
           "path in its own process";
  return false;
}

}  // namespace tfq
