#!/bin/bash
# The kernel's own style check over the driver:
#
#   tests/vm/checkpatch.sh SOURCE_DIR CACHE_DIR
#
# checkpatch.pl is not in Debian's header packages; it comes from
# linux-source-6.1 (tests/lib/deps.sh installs it), whose tarball gives up
# scripts/ into CACHE_DIR once.  --strict, and nothing may be reported, except
# in driver/compat.h, whose whole purpose is LINUX_VERSION_CODE tests.
set -u
src=$1 cache=$2
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
if [ -z "$tarball" ]; then
    echo "checkpatch: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.1)"
    exit 1
fi
script=$cache/$(basename "$tarball" .tar.xz)/scripts/checkpatch.pl
if [ ! -f "$script" ]; then
    mkdir -p "$cache" &&
        tar -xJf "$tarball" -C "$cache" --wildcards '*/scripts/checkpatch.pl' \
            '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch' || exit 1
fi

status=0
check() { # what, checkpatch options...
    local what=$1 out
    shift
    out=$(perl "$script" --no-tree --strict --terse --show-types "$@" 2>&1)
    if [ $? -ne 0 ] || grep -q "WARNING\|ERROR\|CHECK" <<<"$out"; then
        echo "FAIL $what:"
        echo "$out"
        status=1
    else
        echo "PASS $what"
    fi
}
for f in "$src"/driver/*.c "$src"/driver/internal.h "$src"/driver/uapi/linux/realcom.h; do
    check "${f#"$src"/}" -f "$f"
done
check "driver/compat.h" --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f "$src/driver/compat.h"
exit $status
