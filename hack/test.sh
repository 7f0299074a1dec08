#!/usr/bin/env bash
# Runs every test, as CI does: dependencies, the Kubernetes tools, the project built plainly and with
# ASan+UBSan (unit tests run under the sanitizers), the fuzz targets briefly, then all of ctest.
#
#   ./hack/test.sh              everything
#   ./hack/test.sh -L unit      only what ctest selects (extra arguments go to the final ctest)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

./hack/install-deps.sh
./hack/k8s-tools.sh

jobs=$(nproc)
step() { printf '\n=== %s\n' "$*"; }

step "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

step "build (ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKACME_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"

step "unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs"

if [[ -f tests/fuzz/CMakeLists.txt ]]; then
    step "fuzz targets (short runs over their corpora)"
    CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKACME_FUZZ=ON -DKACME_SANITIZE=ON \
        -DBUILD_TESTING=OFF >/dev/null
    cmake --build build-fuzz -j "$jobs"
    ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

step "all tests (unit, integration, e2e)"
ctest --test-dir build --output-on-failure "$@"
