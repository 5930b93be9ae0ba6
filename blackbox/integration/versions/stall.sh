#!/usr/bin/env bash
# A version that stalls: the real gateway ($REAL_GATEWAY), stopped for 0.6 s of every second
# once it has started. Its exit status is the gateway's.
"$REAL_GATEWAY" "$@" &
child=$!
trap 'kill -CONT $child 2>/dev/null; kill -TERM $child 2>/dev/null' TERM
sleep 1
while kill -0 "$child" 2>/dev/null; do
    kill -STOP "$child" 2>/dev/null
    sleep 0.6
    kill -CONT "$child" 2>/dev/null
    sleep 0.4
done
wait "$child"
