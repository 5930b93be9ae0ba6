#ifndef TICKSTREAM_CFUZZING_H
#define TICKSTREAM_CFUZZING_H
#include <stddef.h>
#include <stdint.h>

typedef int (*ts_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver on `callback` when the executable was linked with
/// -sanitize=fuzzer (scripts/fuzz.sh); otherwise says so and returns 2.
int ts_run_fuzzer(int argc, char **argv, ts_fuzz_callback callback);
#endif
