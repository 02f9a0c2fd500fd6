#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a scratch DESTDIR, then builds and
# runs a tiny program against the installed copy twice: with pkg-config and
# with find_package(Arbor). SANITIZE repeats the build's -fsanitize flags,
# which the installed library needs at link time.
set -euo pipefail
build=${1:?usage: test-install.sh BUILD_DIR [SANITIZE]}
sanitize=${2:-}
flags=()
[ -n "$sanitize" ] && flags=(-fsanitize="$sanitize")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$(sed -n 's/^prefix=//p' "$build/arbor.pc")
DESTDIR="$tmp/dest" cmake --install "$build" >/dev/null
root="$tmp/dest$prefix"

cat >"$tmp/hello.c" <<'C'
#include <arbor.h>
#include <stdio.h>

static void hello(void *arg)
{
    arbor_send(arbor_self(), 1, "hi", 3);
    arbor_msg_t *m;
    if (arbor_receive(1000, &m) == 0) {
        printf("%s from arbor %d.%d\n", (char *)m->data, ARBOR_VERSION_MAJOR, ARBOR_VERSION_MINOR);
        arbor_msg_free(m);
    }
}

int main(void)
{
    return arbor_run(NULL, hello, NULL, NULL) == 0 ? 0 : 1;
}
C

# pkg-config, against the static library (no rpath games needed).
export PKG_CONFIG_PATH="$root/lib/pkgconfig:$root/lib/x86_64-linux-gnu/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR=""
cflags=$(pkg-config --cflags arbor | sed "s|-I$prefix|-I$root|")
libdir=$(pkg-config --variable=libdir arbor)
cc "${flags[@]}" $cflags "$tmp/hello.c" "$tmp/dest$libdir/libarbor.a" -pthread -o "$tmp/hello"
out=$("$tmp/hello")
[ "$out" = "hi from arbor 0.1" ] || { echo "pkg-config build printed: $out"; exit 1; }

# find_package(Arbor) from a CMake project.
mkdir -p "$tmp/proj"
cp "$tmp/hello.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(hello C)
find_package(Arbor REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE Arbor::arbor_static)
target_compile_options(hello PRIVATE ${flags[*]})
target_link_options(hello PRIVATE ${flags[*]})
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$root" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
out=$("$tmp/proj/build/hello")
[ "$out" = "hi from arbor 0.1" ] || { echo "find_package build printed: $out"; exit 1; }
echo "install test passed"
