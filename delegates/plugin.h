/* The tfq delegate's exported C interface.
 *
 * 1. The TFLite external-delegate plugin entry points, so one .so serves
 *    Python's load_delegate, benchmark_model --external_delegate_path and C++
 *    apps. Options (string key/value):
 *      num_threads  integer 0..256; 0 = the interpreter's num_threads (default)
 *      log_level    silent | error | warning (default) | info | verbose
 *      allow_ops    comma-separated builtin op names to claim (default: all supported)
 *      deny_ops     comma-separated builtin op names never to claim
 *      claim_all    true | false: test mode, Prepare fails naming the first node
 *                   the delegate cannot claim
 *      profile      true | false: time every delegated op (tfq_delegate_op_profile)
 *      isa          amx | avx512_vnni | avx512 | avx2 | scalar (aarch64: neon_i8mm |
 *                   neon_dotprod | neon) | auto: cap the kernels' path (default
 *                   $TFQ_ISA, else the CPU's best). Per process: the first
 *                   delegate fixes it; another path later, or one the CPU
 *                   lacks, fails naming what is in effect / what the CPU has
 *    An unknown key or a bad value makes create return NULL after reporting one
 *    line through report_error.
 * 2. tfq_delegate_*: introspection for tests and tools.
 */
#ifndef TFQ_DELEGATES_PLUGIN_H_
#define TFQ_DELEGATES_PLUGIN_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct TfLiteDelegate;

__attribute__((visibility("default"))) struct TfLiteDelegate* tflite_plugin_create_delegate(
    const char* const* options_keys, const char* const* options_values, size_t num_options,
    void (*report_error)(const char*));

__attribute__((visibility("default"))) void tflite_plugin_destroy_delegate(
    struct TfLiteDelegate* delegate);

/* Space-separated CPU features detected at load ("avx2 avx512 avx512_vnni
 * amx"), or "scalar only": what the CPU has, uncapped. Static storage. */
__attribute__((visibility("default"))) const char* tfq_delegate_cpu_features(void);

/* The kernel path in effect in this process ("avx512_vnni", ...): the CPU's
 * best below the ISA cap. Asking fixes the cap. Static storage. */
__attribute__((visibility("default"))) const char* tfq_delegate_isa(void);

/* What the delegate's most recent Prepare (one interpreter's
 * ModifyGraphWithDelegate) did: nodes in the execution plan and nodes claimed.
 * Returns 0, or -1 if `delegate` was not created by this library. */
__attribute__((visibility("default"))) int tfq_delegate_last_claim(
    const struct TfLiteDelegate* delegate, int* nodes_total, int* nodes_claimed);

/* Newline-separated reasons for the nodes the most recent Prepare declined,
 * copied into `buffer` (NUL-terminated, truncated to `size`). Returns the full
 * length without the NUL, or -1 for a foreign delegate. */
__attribute__((visibility("default"))) long tfq_delegate_declined_nodes(
    const struct TfLiteDelegate* delegate, char* buffer, size_t size);

/* With option profile=true: time spent per op type and kernel path since the
 * delegate was created, one line each, "<op name> <kernel path> <invocations>
 * <nanoseconds> <multiply-accumulates>", and "(partition) - <invocations>
 * <nanoseconds> <nodes run>" for the partitions' time between ops,
 * copied into `buffer` as tfq_delegate_declined_nodes does. Returns the full
 * length, or -1 for a foreign delegate. Empty without profile=true. */
__attribute__((visibility("default"))) long tfq_delegate_op_profile(
    const struct TfLiteDelegate* delegate, char* buffer, size_t size);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* TFQ_DELEGATES_PLUGIN_H_ */
