#!/usr/bin/env bash
# A version that crashes: the real gateway ($REAL_GATEWAY), sent SIGSEGV $CRASH_AFTER seconds
# (default 2) after it starts. Swift's backtracer catches a SIGSEGV that another process sent,
# prints a backtrace and lets the process go on (only a real fault kills it after that), so it
# is turned off here: the signal then ends the process as a segfault does.
SWIFT_BACKTRACE=enable=no "$REAL_GATEWAY" "$@" &
child=$!
sleep "${CRASH_AFTER:-2}"
kill -SEGV "$child" 2>/dev/null
wait "$child"
