// TFQ_CLONES: compile a function once per ISA (AVX2 and baseline x86-64),
// the loader (ifunc) picking the clone for the CPU it runs on. Plain code
// elsewhere (clang, aarch64).
#ifndef TFQ_DELEGATES_KERNELS_TARGET_CLONES_H_
#define TFQ_DELEGATES_KERNELS_TARGET_CLONES_H_

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TFQ_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TFQ_CLONES
#endif

#endif  // TFQ_DELEGATES_KERNELS_TARGET_CLONES_H_
