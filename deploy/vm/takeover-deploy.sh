#!/usr/bin/env bash
# Zero-gap deploy on one host without a load balancer: the new binary takes the listening
# socket over from the running one, which then drains its clients with Close 1001.
#
#   deploy/vm/takeover-deploy.sh /usr/local/bin/gateway.new
#
# The running gateway must have been started with --control-socket "$CONTROL".
set -euo pipefail
NEW_BINARY=${1:?usage: $0 NEW_BINARY}
CONTROL=${CONTROL:-/run/tickstream/control.sock}
LOG=${LOG:-/var/log/tickstream/gateway.log}

old_pid=$(curl -fsS http://127.0.0.1:8080/health/live | sed -E 's/.*"pid":([0-9]+).*/\1/')
# The new instance receives the listener over $CONTROL, starts accepting, tells the old one,
# and creates the control socket anew for the next deploy. The port never stops accepting.
nohup "$NEW_BINARY" --takeover "$CONTROL" --control-socket "$CONTROL" --log-format json >>"$LOG" 2>&1 &
new_pid=$!
for _ in $(seq 100); do
    pid=$(curl -fsS http://127.0.0.1:8080/health/live 2>/dev/null | sed -E 's/.*"pid":([0-9]+).*/\1/' || true)
    [[ $pid == "$new_pid" ]] && break
    sleep 0.1
done
[[ $pid == "$new_pid" ]] || { echo "new instance $new_pid is not serving; old $old_pid keeps the port" >&2; exit 1; }
echo "new instance $new_pid serving; old instance $old_pid draining"
# The old instance exits 0 once its last client has gone (at most --drain-timeout).
while kill -0 "$old_pid" 2>/dev/null; do sleep 0.5; done
echo "old instance $old_pid has exited"
