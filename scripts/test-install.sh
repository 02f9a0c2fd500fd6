#!/usr/bin/env bash
# Installs the build in BUILD_DIR twice and builds programs against each
# copy: with a prefix (as `make install PREFIX=...` does), the README's "A
# first program", built with the README's own command line, and the desk
# with its systemd unit; and into a
# scratch DESTDIR, a tiny program through find_package(Arbor). SANITIZE
# repeats the build's -fsanitize flags, which the installed library needs
# at link time.
set -euo pipefail
build=${1:?usage: test-install.sh BUILD_DIR [SANITIZE]}
sanitize=${2:-}
flags=()
[ -n "$sanitize" ] && flags=(-fsanitize="$sanitize")
readme="$(cd "$(dirname "$0")/.." && pwd)/README.md"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. A prefix of our own, and the README's program exactly as it stands.
prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
mkdir -p "$tmp/first"
awk '/^## A first program/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$readme" >"$tmp/first/hello.c"
[ -s "$tmp/first/hello.c" ] || { echo "no program under README's 'A first program'"; exit 1; }
build_line=$(sed -n 's/^Build it against an installed Arbor with `\([^`]*\)`.*/\1/p' "$readme")
[ -n "$build_line" ] || { echo "no build line under README's 'A first program'"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name arbor.pc)")/..
(
    cd "$tmp/first"
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    # The README's line, plus the sanitizer flags of a sanitized build.
    eval "$build_line ${flags[*]}"
    out=$(LD_LIBRARY_PATH="$libdir" ./a.out)
    [ "$out" = "hello" ] || { echo "the README's program printed: $out"; exit 1; }
)

# 1b. The desk is installed with a systemd unit that runs the installed
#     binary, without a console, on a data path, restarted on failure.
unit="$prefix/lib/systemd/system/arbor-desk.service"
[ -f "$unit" ] || { echo "no systemd unit at $unit"; exit 1; }
grep -qx "ExecStart=$prefix/bin/support_system --no-console --db /var/lib/arbor-desk/desk.db" "$unit" ||
    { echo "the unit does not run the installed desk: $(grep ExecStart "$unit")"; exit 1; }
grep -qx "Restart=on-failure" "$unit" || { echo "the unit is not restarted on failure"; exit 1; }
"$prefix/bin/support_system" --help | grep -q -- --no-console ||
    { echo "the installed desk does not run"; exit 1; }

# 2. find_package(Arbor) from a CMake project, against a DESTDIR install.
dest_prefix=/opt/arbor-test
DESTDIR="$tmp/dest" cmake --install "$build" --prefix "$dest_prefix" >/dev/null
root="$tmp/dest$dest_prefix"
mkdir -p "$tmp/proj"
cat >"$tmp/proj/hello.c" <<'C'
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
