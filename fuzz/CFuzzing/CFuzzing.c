#include "CFuzzing.h"
#include <stdio.h>

// Weak: present only when libFuzzer is linked in (-sanitize=fuzzer), null in a plain build.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t)) __attribute__((weak));

int ts_run_fuzzer(int argc, char **argv, ts_fuzz_callback callback) {
    if (!LLVMFuzzerRunDriver) {
        fputs("this build has no fuzzer: run scripts/fuzz.sh, which builds with -sanitize=fuzzer\n", stderr);
        return 2;
    }
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
