import CFuzzing
import FuzzTargets
import Glibc

// libFuzzer's driver calls the target for every input it tries, or for each file it is given
// (`.build-fuzz/release/FuzzNATS crash-file` replays a crash). Built by scripts/fuzz.sh.
exit(ts_run_fuzzer(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    NATSTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
