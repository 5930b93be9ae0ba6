#!/usr/bin/env bash
# Zero-gap deploy on one host without a load balancer: the new binary takes the listening
# socket over from the running one, which then drains its clients with Close 1001 or, with
# `--handover connections` among the FLAGs, hands them over live (same TCP connections, seq
# continuing; see docs/deploys.md).
#
#   deploy/vm/takeover-deploy.sh NEW_BINARY [FLAG...]
#   deploy/vm/takeover-deploy.sh NEW_BINARY --handover connections
#   deploy/vm/takeover-deploy.sh NEW_BINARY --handover connections --watch 60
#
# With --watch the old instance stays as a standby, judges the new one against its own recent
# figures and takes every connection back if it does worse, stalls or crashes. The script
# waits for the verdict and its exit status says it: 0 promoted, 3 rolled back (the old
# version serves again), 4 crashed (the new process died; the old version serves again),
# 5 no verdict in time. Without --watch: 0 when the new instance serves and the old one left.
#
# The new instance runs with exactly the running one's settings: its command line and its
# GATEWAY_* environment are read from /proc and given to the new binary, so a deploy never
# changes the configuration by accident. FLAGs given here are added after them and win (a
# change made on purpose); every setting that differs is printed before the switch.
# The deploy's own choices (--takeover, --handover, --watch and its terms) are not settings:
# the running instance's are dropped, and only this command's FLAGs choose how this deploy
# goes.
#
# The running gateway must have been started with --control-socket (its path is read from
# its command line; CONTROL=PATH overrides). OLD_PID=N names the running instance when more
# than one gateway runs on the host. LOG=FILE (default /var/log/tickstream/gateway.log) gets
# the new instance's output; its folder and the control socket's are created when missing.
# If the new instance does not take over within TIMEOUT seconds (default 15), it is stopped,
# the old one keeps serving untouched, and the script exits 1 with the new one's last lines.
set -euo pipefail
NEW_BINARY=${1:?usage: $0 NEW_BINARY [FLAG...]}
shift
EXTRA=("$@")
LOG=${LOG:-/var/log/tickstream/gateway.log}
TIMEOUT=${TIMEOUT:-15}

fail() { echo "takeover-deploy: $*" >&2; exit 1; }
[[ -x $NEW_BINARY ]] || fail "$NEW_BINARY is not an executable"

# The running instance: the one given, else the only process whose command line has
# --control-socket and whose executable is a gateway.
if [[ -z ${OLD_PID:-} ]]; then
    candidates=()
    for dir in /proc/[0-9]*; do
        [[ -r $dir/cmdline ]] || continue
        if tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | grep -qx -- '--control-socket'; then
            candidates+=("${dir#/proc/}")
        fi
    done
    ((${#candidates[@]} == 1)) || fail "found ${#candidates[@]} gateways started with --control-socket (${candidates[*]:-none}); set OLD_PID (two: a watched deploy may be under way, wait for its verdict)"
    OLD_PID=${candidates[0]}
fi
kill -0 "$OLD_PID" 2>/dev/null || fail "no running process $OLD_PID"

# Its settings: the arguments after the program name, and its GATEWAY_* variables.
mapfile -d "" -t old_args <"/proc/$OLD_PID/cmdline"
old_args=("${old_args[@]:1}")
mapfile -d '' -t old_env < <(grep -z '^GATEWAY_' "/proc/$OLD_PID/environ" || true)
# How the running instance was deployed, which says nothing about how this deploy goes.
is_deploy_flag() { [[ $1 == --takeover || $1 == --handover || $1 == --watch || $1 == --watch-* ]]; }
is_deploy_variable() { [[ $1 == GATEWAY_TAKEOVER || $1 == GATEWAY_HANDOVER || $1 == GATEWAY_WATCH || $1 == GATEWAY_WATCH_* ]]; }

# The value of FLAG in an argument list (as --flag VALUE or --flag=VALUE), else empty.
flag_value() {
    local flag=$1; shift
    local previous=""
    local value=""
    for argument in "$@"; do
        if [[ $previous == "$flag" ]]; then value=$argument; fi
        if [[ $argument == "$flag="* ]]; then value=${argument#"$flag="}; fi
        previous=$argument
    done
    echo "$value"
}
env_value() {
    local name=$1
    for entry in "${old_env[@]}"; do [[ $entry == "$name="* ]] && echo "${entry#"$name="}"; done
    return 0
}

CONTROL=${CONTROL:-$(flag_value --control-socket "${old_args[@]}")}
CONTROL=${CONTROL:-$(env_value GATEWAY_CONTROL_SOCKET)}
[[ -n $CONTROL ]] || fail "process $OLD_PID was not started with --control-socket: it cannot hand over its listener"

# Where to ask who serves: the old instance's port and scheme, seen from this host; with
# --admin-port, health lives on the admin listener (the successor binds its own beside the old
# one, which closes its copy once the takeover completes).
port=$(flag_value --port "${old_args[@]}" "${EXTRA[@]}")
port=${port:-$(env_value GATEWAY_PORT)}
port=${port:-8080}
scheme=http
[[ -n $(flag_value --tls-cert "${old_args[@]}")$(env_value GATEWAY_TLS_CERT) ]] && scheme=https
health_host=127.0.0.1
admin_port=$(flag_value --admin-port "${old_args[@]}" "${EXTRA[@]}")
admin_port=${admin_port:-$(env_value GATEWAY_ADMIN_PORT)}
if [[ -n $admin_port ]]; then
    [[ $admin_port != 0 ]] || fail "process $OLD_PID has --admin-port 0 (a random port): give it a fixed one to deploy by takeover"
    port=$admin_port
    scheme=http
    health_host=$(flag_value --admin-host "${old_args[@]}" "${EXTRA[@]}")
    health_host=${health_host:-$(env_value GATEWAY_ADMIN_HOST)}
    health_host=${health_host:-127.0.0.1}
    [[ $health_host == *:* ]] && health_host="[$health_host]"
fi
serving_pid() {
    curl -fsSk --max-time 1 "$scheme://$health_host:$port/health/live" 2>/dev/null | sed -E 's/.*"pid":([0-9]+).*/\1/' || true
}
[[ $(serving_pid) == "$OLD_PID" ]] || fail "process $OLD_PID does not answer on $scheme://$health_host:$port/health/live"

# The new command line: the old one without the old deploy's choices (its takeover, long
# done, and how it handed over), then this deploy's takeover, then this command's FLAGs.
new_args=()
skip=0
for argument in "${old_args[@]}"; do
    if ((skip)); then skip=0; continue; fi
    if is_deploy_flag "${argument%%=*}"; then
        [[ $argument == *=* ]] || skip=1
        continue
    fi
    new_args+=("$argument")
done
settings_env=()
for entry in "${old_env[@]}"; do
    is_deploy_variable "${entry%%=*}" && continue
    settings_env+=("$entry")
done
old_env=("${settings_env[@]}")
new_args+=(--takeover "$CONTROL")
[[ -n $(flag_value --control-socket "${new_args[@]}") ]] || new_args+=(--control-socket "$CONTROL")
new_args+=("${EXTRA[@]}")

echo "takeover-deploy: old instance $OLD_PID: ${old_args[*]} ${old_env[*]}"
echo "takeover-deploy: new instance gets:  ${new_args[*]} ${old_env[*]}"
if ((${#EXTRA[@]})); then echo "takeover-deploy: changed on purpose: ${EXTRA[*]}"; else echo "takeover-deploy: no setting changed"; fi

mkdir -p "$(dirname "$CONTROL")" "$(dirname "$LOG")"
# Only the old instance's GATEWAY_* variables, none of this shell's: the settings are its.
env_args=()
for entry in "${old_env[@]}"; do env_args+=("$entry"); done
while IFS= read -r name; do env_args=("-u" "$name" "${env_args[@]}"); done < <(env | grep -o '^GATEWAY_[A-Z_]*' || true)
nohup env "${env_args[@]}" "$NEW_BINARY" "${new_args[@]}" >>"$LOG" 2>&1 &
new_pid=$!

# The new instance is the process started here, or its child when NEW_BINARY is a wrapper.
is_new() { [[ -n $1 && ( $1 == "$new_pid" || $(awk '{print $4}' "/proc/$1/stat" 2>/dev/null) == "$new_pid" ) ]]; }
deadline=$((SECONDS + TIMEOUT))
while ((SECONDS < deadline)); do
    is_new "$(serving_pid)" && break
    if ! kill -0 "$new_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if ! is_new "$(serving_pid)"; then
    kill "$new_pid" 2>/dev/null || true
    echo "takeover-deploy: FAILED: the new instance $new_pid did not take over within ${TIMEOUT}s;" \
         "the old instance $OLD_PID keeps serving, unchanged. Last lines of $LOG:" >&2
    tail -n 5 "$LOG" >&2
    exit 1
fi
serving=$(serving_pid)
# Exited means gone or a zombie its parent has not reaped yet.
running() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
watch=$(flag_value --watch "${EXTRA[@]}")
if [[ -z $watch || $watch == 0 ]]; then
    echo "takeover-deploy: new instance $serving serving; old instance $OLD_PID draining"
    # The old instance exits 0 once its last client has gone (at most --drain-timeout).
    while running "$OLD_PID"; do sleep 0.2; done
    echo "takeover-deploy: old instance $OLD_PID has exited"
    exit 0
fi

echo "takeover-deploy: new instance $serving serving; old instance $OLD_PID stands by for ${watch}s and judges it"
# The verdict: the old instance leaving means promoted; the new one leaving means rolled back
# (it exits 3 once it has handed everything back) or crashed. The watch may run on for its
# sample, up to three times its length.
verdict_deadline=$((SECONDS + ${watch%.*} * 3 + 30))
while ((SECONDS < verdict_deadline)); do
    if ! kill -0 "$new_pid" 2>/dev/null; then
        status=0
        wait "$new_pid" || status=$?
        grep -h "watch decision" "$LOG" 2>/dev/null | tail -n 1 || true
        if ((status == 3)); then
            echo "takeover-deploy: ROLLED BACK: the old instance $OLD_PID serves again; the new version handed everything back"
            exit 3
        fi
        for _ in $(seq 30); do [[ $(serving_pid) == "$OLD_PID" ]] && break; sleep 0.1; done
        echo "takeover-deploy: CRASHED: the new instance exited with status $status; the old instance $OLD_PID serves again" \
             "($( [[ $(serving_pid) == "$OLD_PID" ]] && echo "confirmed" || echo "NOT confirmed: check it" ))"
        exit 4
    fi
    if ! running "$OLD_PID"; then
        grep -h "watch decision" "$LOG" 2>/dev/null | tail -n 1 || true
        echo "takeover-deploy: PROMOTED: new instance $serving serves; the old instance $OLD_PID has exited"
        exit 0
    fi
    sleep 0.2
done
echo "takeover-deploy: no verdict within $((${watch%.*} * 3 + 30))s: both instances are left as they are" >&2
exit 5
