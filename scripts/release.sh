#!/usr/bin/env bash
# The release artifact: one file per executable. Builds gateway and loadtest with the Swift
# runtime linked statically into dist/; they then need only libc, libstdc++, libssl, libcrypto and zlib on
# the host (the deploy script and the systemd unit run dist/gateway copied into place). Fails
# if anything of the Swift toolchain is still loaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib
mkdir -p dist
cp .build/release/gateway .build/release/loadtest dist/
for binary in dist/gateway dist/loadtest; do
    if ldd "$binary" | grep -qi swift; then
        echo "$binary still loads the Swift runtime:"
        ldd "$binary"
        exit 1
    fi
    echo "$binary: $(du -h "$binary" | cut -f1), loads $(ldd "$binary" | awk '/=>/ {print $1}' | grep -v '^linux-vdso' | tr '\n' ' ')"
done
