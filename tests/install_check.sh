#!/usr/bin/env bash
# install_check.sh BUILD_DIR - installs the build into a staging folder
# (cmake --install with DESTDIR) and checks what a user gets:
#   - libgomem.a, libgomem.so, gomem.h and gomem.pc;
#   - the drop-in library in LIBDIR/gomem: libgc.so.1 (SONAME libgc.so.1),
#     the bdwgc headers in INCLUDEDIR/gomem/bdwgc, gomem-bdwgc.pc, and
#     bin/gomem-run;
#   - a program compiled against the installed gomem.h (flags from
#     gomem.pc) runs;
#   - a program compiled against the installed bdwgc headers and linked
#     with Debian-style -lgc from gomem-bdwgc.pc runs on gomem's library
#     (it says so through GOMEM_BDWGC_BANNER), and gomem-run makes a
#     program linked against any libgc.so.1 load gomem's.
# Exits 0 when all hold, 1 with the first failure.
set -u
BUILD=$(cd "${1:?usage: install_check.sh BUILD_DIR}" && pwd)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/gomem-install.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
fail() { echo "install_check: $*" >&2; exit 1; }

DESTDIR="$STAGE" cmake --install "$BUILD" >"$STAGE/install.log" 2>&1 || {
    cat "$STAGE/install.log" >&2; fail "cmake --install failed"; }
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BUILD/CMakeCache.txt")
root="$STAGE$prefix"
[ -n "$libdir" ] || libdir=lib
case "$libdir" in /*) lib="$STAGE$libdir" ;; *) lib="$root/$libdir" ;; esac

for f in "$lib/libgomem.a" "$lib/libgomem.so" "$root/include/gomem.h" "$lib/pkgconfig/gomem.pc" \
         "$lib/gomem/libgc.so.1" "$root/include/gomem/bdwgc/gc.h" "$root/include/gomem/bdwgc/gc/gc.h" \
         "$root/include/gomem/bdwgc/gc/gc_mark.h" "$lib/pkgconfig/gomem-bdwgc.pc" "$root/bin/gomem-run"; do
    [ -e "$f" ] || fail "missing after install: ${f#"$STAGE"}"
done
[ -x "$root/bin/gomem-run" ] || fail "bin/gomem-run is not executable"
soname=$(readelf -d "$lib/gomem/libgc.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgc.so.1 ] || fail "the drop-in library's SONAME is '$soname', not libgc.so.1"

if command -v pkg-config >/dev/null; then
    pc() { PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --define-variable=prefix="$root" "$@"; }
else
    # Without pkg-config (not in build-essential): the flags the .pc files
    # must give, after checking that they say so.
    echo "install_check: pkg-config is not installed; checking the .pc files' text instead"
    grep -q -- '-lgomem' "$lib/pkgconfig/gomem.pc" || fail "gomem.pc does not link -lgomem"
    grep -q 'includedir=.*/gomem/bdwgc' "$lib/pkgconfig/gomem-bdwgc.pc" || fail "gomem-bdwgc.pc has the wrong includedir"
    pc() {
        case "$*" in
        *--cflags*gomem-bdwgc*) echo "-I$root/include/gomem/bdwgc" ;;
        *--cflags*) echo "-I$root/include" ;;
        *--libs*) echo "-L$lib -lgomem -lpthread -ldl -lm" ;;
        esac
    }
fi
cat >"$STAGE/native.c" <<'C'
#include <gomem.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    char *p = gm_alloc(100);
    strcpy(p, "gomem installed");
    gm_gc();
    puts(p);
    return 0;
}
C
# shellcheck disable=SC2046
cc -o "$STAGE/native" "$STAGE/native.c" $(pc --cflags gomem) $(pc --libs --static gomem) \
    -Wl,-rpath,"$lib" || fail "a program does not build against the installed gomem.h and gomem.pc"
[ "$("$STAGE/native")" = "gomem installed" ] || fail "the program built against the installed gomem does not run"

cat >"$STAGE/client.c" <<'C'
#define GC_THREADS
#include <gc.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    GC_INIT();
    char *p = GC_MALLOC(64);
    strcpy(p, "bdwgc client");
    GC_gcollect();
    printf("%s %u.%u\n", p, GC_get_version() >> 16, (GC_get_version() >> 8) & 0xff);
    return 0;
}
C
# shellcheck disable=SC2046
cc -o "$STAGE/client" "$STAGE/client.c" $(pc --cflags gomem-bdwgc) -L"$lib/gomem" -lgc \
    || fail "a bdwgc client does not build against the installed headers"
out=$(GOMEM_BDWGC_BANNER="$STAGE/banner" "$root/bin/gomem-run" "$STAGE/client") \
    || fail "gomem-run could not run the client"
[ "$out" = "bdwgc client 8.2" ] || fail "the client printed '$out'"
grep -q "^gomem libgc.so.1" "$STAGE/banner" 2>/dev/null || fail "the client did not load gomem's libgc.so.1"
"$root/bin/gomem-run" >/dev/null 2>&1 && fail "gomem-run without a program should fail"
echo "install_check: ok (prefix $prefix, libdir $libdir)"
