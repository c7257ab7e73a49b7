#!/usr/bin/env bash
# The native UDP layer's tests under AddressSanitizer (issue #19): builds native/udp with
# -fsanitize=address into native/udp/build-asan, preloads the ASan runtime into node (node
# itself is not instrumented, so leak checking is off: it would report node's own allocations)
# and runs test/dns/native-udp and the byte-for-byte test against it. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=native/udp/build-asan
mkdir -p "$out"
node_inc="$(dirname "$(dirname "$(command -v node)")")/include/node"
g++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fPIC -shared -Wall -Wextra -Wno-missing-field-initializers \
  -DNAPI_VERSION=8 -DNODE_GYP_MODULE_NAME=meridian_udp -I"$node_inc" native/udp/udp.cc -o "$out/meridian_udp.node"
export MERIDIAN_NATIVE_UDP="$PWD/$out/meridian_udp.node" MERIDIAN_REQUIRE_NATIVE=1
export LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
node --test --test-concurrency=1 dist/test/dns/native-udp.test.js dist/test/dns/question-index.test.js
