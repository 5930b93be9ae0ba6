# What building and testing Tickstream needs beyond Swift, listed once: `.ci/run` installs the
# missing packages, and `scripts/test.sh` names them in one line before it runs anything.
# Each line: Debian package, then how to tell it is there (a command on PATH, or a pkg-config
# module as pc:NAME, or a Python module as py:NAME).
PREREQUISITES=(
    "libssl-dev pc:openssl"          # TLS, SHA-1, token signatures
    "zlib1g-dev pc:zlib"             # permessage-deflate
    "pkg-config pkg-config"          # finds the two above for the build
    "python3-venv py:ensurepip"      # the pinned Python test clients live in .venv
    "openssl openssl"                # test certificates
    "socat socat"                    # relays the Autobahn run into TLS
    "curl curl"                      # the takeover deploy script asks instances who serves
    "iproute2 ss"                    # hardening tests read keepalive timers
    "util-linux prlimit"             # hardening tests cap the descriptor limit
    "nats-server nats-server"        # the fleet tests' bus (2.9, JetStream)
    "chromium chromium"              # the live page in a real headless browser
    "prometheus promtool"            # the release rules and the canary analysis, tested with promtool
)

# missing_prerequisites: prints the Debian packages whose check fails, space-separated.
missing_prerequisites() {
    local entry package check missing=()
    for entry in "${PREREQUISITES[@]}"; do
        read -r package check <<<"$entry"
        case $check in
            pc:*) pkg-config --exists "${check#pc:}" 2>/dev/null || missing+=("$package") ;;
            py:*) python3 -c "import ${check#py:}, venv" >/dev/null 2>&1 || missing+=("$package") ;;
            *) command -v "$check" >/dev/null 2>&1 || missing+=("$package") ;;
        esac
    done
    echo "${missing[*]}"
}
