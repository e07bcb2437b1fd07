#!/bin/sh
# Runs inside the qemu guest (busybox sh), called by the initramfs /init:
#   guest.sh slab-snapshot FILE   write the slab object counts to FILE
#   guest.sh run                  every tty_test case, then unload and slab checks
# Prints "PASS name" / "FAIL name: why" per check and "N passed, N failed";
# the totals also go to /tmp/vm-counts for /init's closing VM-RESULT line.
#
# "run", in order: the shared libraries of the extra binaries resolve; every
# tty_test case (tty_test --list), each in its own process, bounded, failed
# too if the kernel log grows an oops/BUG/WARNING while it runs; e2e.sh
# (realcomd + nportsim + e2e) when the host put all of them in; rmmod; the slab
# checks; a second insmod with only the cycles; rmmod; the slab checks again.
#
# Slab check (Debian kernels have no kmemleak): SLUB's per-cache object
# counts.  Before each snapshot every cache is shrunk (/sys/kernel/slab/*/shrink
# flushes the per-cpu slabs, so /proc/slabinfo's active_objs is exact) and the
# page cache/dentries are dropped.  Only the caches the module and the tty
# layer allocate from are compared (SLAB_RE: kmalloc-* incl. -cg-/-rcl-,
# kernfs_*, shmem_inode_cache (devtmpfs nodes), filp); process caches
# (vm_area_struct, vma_lock, anon_vma*, lsm_inode_cache, ...) move by up to
# ~300 objects with whatever processes ran, measured here, and say nothing
# about the module.  Two comparisons, both "after rmmod" vs "before insmod":
#   slab_whole_suite  the whole suite, each cache within SLAB_TOL_SUITE
#                     objects (its first run also warms caches up);
#   slab_cycles       a second load of the module that runs only the 1,000
#                     open/termios/close cycles and 500 bind/open/close
#                     cycles, each cache within SLAB_TOL_CYCLES objects, so a
#                     leak of one object per cycle (>= 500) fails.  Measured
#                     noise in these caches with no leak: up to ~90 objects.
# Caches that appeared while the module was loaded must be gone after rmmod.
# Not seen by this check: allocations above 8 KiB (kmalloc hands them to the
# page allocator: the module's 16 KiB TX kfifo and read buffer); a leaked port
# still shows, through its struct and its smaller buffers in kmalloc-*.
# Counts can lag a free (RCU, deferred tty release), so an over-tolerance
# comparison is retried for up to ~10 s before it fails.

T=/tests/tty_test
SLAB_TOL_SUITE=${SLAB_TOL_SUITE:-300}
SLAB_TOL_CYCLES=${SLAB_TOL_CYCLES:-200}
SLAB_RE=${SLAB_RE:-'^(kmalloc-|kernfs_|shmem_inode_cache$|filp$)'}
BAD_RE='Oops|BUG:|WARNING:|Call Trace|general protection|Kernel panic'
pass=0
fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

slab_snapshot() { # file: "cache active_objs" lines
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
    for f in /sys/kernel/slab/*/shrink; do echo 1 >"$f" 2>/dev/null; done
    awk 'NR > 2 { print $1, $2 }' /proc/slabinfo | sort >"$1"
}

# slab_compare before after tolerance [cache-regex]: prints offending caches,
# returns 1 if any
slab_compare() {
    awk -v tol="$3" -v re="${4:-.}" '
        FNR == NR { before[$1] = $2; next }
        $1 ~ re { if (($1 in before) ? ($2 - before[$1] > tol) : ($2 > tol)) {
              printf "  %s: %d -> %d objects (+%d, tolerance %d)\n", $1, before[$1], $2, $2 - before[$1], tol; bad = 1 } }
        END { exit bad }' "$1" "$2"
}

# slab_check name before tolerance [cache-regex]: snapshot now (retrying for up to ~10 s while
# over tolerance) and compare with the "before" snapshot
slab_check() {
    name=$1 before=$2 tol=$3 re=${4:-.} i=0
    while :; do
        slab_snapshot /tmp/slab.after
        if slab_compare "$before" /tmp/slab.after "$tol" "$re" >/tmp/slab.diff; then
            echo "  # $name: largest growths: $(slab_top "$before" /tmp/slab.after "$re")"
            ok "$name"
            return
        fi
        i=$((i + 1))
        [ $i -ge 20 ] && break
        sleep 0.5   # retry of a condition with a deadline (deferred frees)
    done
    ko "$name" "slab objects not back where they started after rmmod:"
    cat /tmp/slab.diff
}

# the three caches that grew most, "name +N" (information)
slab_top() {
    awk -v re="${3:-.}" 'FNR == NR { before[$1] = $2; next } $1 ~ re { print $2 - before[$1], $1 }' "$1" "$2" |
        sort -rn | head -3 | awk '{ printf "%s +%d  ", $2, $1 }'
}

# new caches (present after, absent before) are the module's own leftovers
slab_new_caches() {
    awk 'FNR == NR { before[$1] = 1; next } !($1 in before) && $2 > 0 { print "  " $1, $2 }' "$1" "$2"
}

kernel_log_lines() { dmesg | wc -l; }

# run_case name: one tty_test case in its own process, bounded; kernel
# oopses/warnings that appear while it runs fail it and are shown
run_case() {
    c=$1
    n0=$(kernel_log_lines)
    timeout -s KILL 180 "$T" "$c" >/tmp/case.out 2>&1
    rc=$?
    cat /tmp/case.out
    if grep -q -E "^PASS $c( |\$)" /tmp/case.out && [ $rc = 0 ]; then
        v=pass
    else
        v=fail
        grep -q -E "^FAIL $c( |:|\$)" /tmp/case.out || why="tty_test exited with status $rc and no verdict (killed after 180 s?)"
    fi
    dmesg | tail -n +$((n0 + 1)) >/tmp/case.dmesg
    if grep -q -E "$BAD_RE" /tmp/case.dmesg; then
        echo "--- kernel log during $c:"
        cat /tmp/case.dmesg
        echo "--- end of kernel log during $c"
        if [ $v = pass ]; then
            # tty_test printed PASS; the kernel did not agree
            v=fail
            why="kernel oops/warning while the case ran (see above)"
        fi
    fi
    if [ $v = pass ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        if grep -q -E "^FAIL $c( |:|\$)" /tmp/case.out; then
            [ -n "${why:-}" ] && echo "FAIL $c: (also) $why"
        else
            echo "FAIL $c: $why"
        fi
    fi
    why=
}

finish() {
    echo "guest: $pass passed, $fail failed"
    echo "$pass passed, $fail failed" >/tmp/vm-counts
}

case "${1:-run}" in
slab-snapshot)
    slab_snapshot "$2"
    exit 0
    ;;
run) ;;
*)
    echo "usage: guest.sh run | slab-snapshot FILE"
    exit 2
    ;;
esac

echo "guest: kernel $(uname -r), $(nproc) cpus"
if [ ! -c /dev/realcom ]; then
    ko dev_realcom "/dev/realcom missing after insmod"
fi
# dynamic binaries the host added (VM_EXTRA_BINS, listed in /tests/extra-bins):
# their loader and every shared library must have come along (the loader's
# --list resolves them without running the program)
ldso=
for l in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
    [ -e "$l" ] && { ldso=$l; break; }
done
for b in $(cat /tests/extra-bins 2>/dev/null); do
    n="extra_bin_$(basename "$b")"
    if [ -z "$ldso" ]; then
        ko "$n" "no dynamic loader in the guest"
    elif v=$("$ldso" --list "$b" 2>&1) && ! echo "$v" | grep -q "not found"; then
        ok "$n"
    else
        ko "$n" "shared libraries do not resolve:"
        echo "$v"
    fi
done
cases=$("$T" --list)
[ -n "$cases" ] || ko tty_test_list "tty_test --list printed nothing"
for c in $cases; do
    run_case "$c"
done

# --- end to end: realcomd + nportsim + e2e (when the host put them in) ---------
if [ -f /tests/e2e.sh ] && command -v realcomd >/dev/null && command -v nportsim >/dev/null &&
    command -v e2e >/dev/null; then
    n0=$(kernel_log_lines)
    timeout -s KILL 240 sh /tests/e2e.sh >/tmp/e2e.out 2>&1
    rc=$?
    cat /tmp/e2e.out
    np=$(grep -c "^PASS " /tmp/e2e.out)
    nf=$(grep -c "^FAIL " /tmp/e2e.out)
    pass=$((pass + np))
    fail=$((fail + nf))
    if [ $rc != 0 ] && [ $nf = 0 ]; then
        ko e2e "e2e.sh exited with status $rc and no FAIL line (killed after 240 s?)"
    elif [ $np = 0 ] && [ $nf = 0 ]; then
        ko e2e "e2e.sh printed no PASS/FAIL line"
    fi
    dmesg | tail -n +$((n0 + 1)) >/tmp/case.dmesg
    if grep -q -E "$BAD_RE" /tmp/case.dmesg; then
        echo "--- kernel log during e2e:"
        cat /tmp/case.dmesg
        ko e2e_kernel_log "kernel oops/warning while e2e ran (see above)"
    fi
fi

# --- opt-in stress (tests/vm/run VM_STRESS_MIN=N sets realcom_stress=N) -------
if [ -n "${realcom_stress:-}" ]; then
    slab_snapshot /tmp/slab.stress
    files0=$(cut -f1 /proc/sys/fs/file-nr)
    n0=$(kernel_log_lines)
    timeout -s KILL $((realcom_stress * 60 + 120)) "$T" stress $((realcom_stress * 60)) >/tmp/stress.out 2>&1
    rc=$?
    cat /tmp/stress.out
    if [ $rc = 0 ] && grep -q "^PASS stress" /tmp/stress.out; then ok stress_run
    elif grep -q "^FAIL stress" /tmp/stress.out; then fail=$((fail + 1))
    else ko stress_run "tty_test stress exited $rc (killed after its bound?)"; fi
    dmesg | tail -n +$((n0 + 1)) >/tmp/case.dmesg
    grep -q -E "$BAD_RE" /tmp/case.dmesg && { cat /tmp/case.dmesg; ko stress_kernel_log "oops/warning during the stress"; }
    slab_check stress_slab /tmp/slab.stress "$SLAB_TOL_CYCLES" "$SLAB_RE"
    # open files: allocated file structs (a little per-CPU slack)
    i=0
    while :; do
        files1=$(cut -f1 /proc/sys/fs/file-nr)
        [ "$files1" -le $((files0 + 16)) ] && break
        i=$((i + 1)); [ $i -ge 20 ] && break
        sleep 0.5   # retry of a condition with a deadline (deferred fput)
    done
    if [ "$files1" -le $((files0 + 16)) ]; then ok stress_files; echo "  # open files $files0 -> $files1"
    else ko stress_files "open files $files0 -> $files1 after the stress"; fi
fi

# --- unload ------------------------------------------------------------------
if rmmod realcom; then
    ok rmmod
    [ -e /dev/realcom ] && ko dev_realcom_gone "/dev/realcom still there after rmmod"
    [ -d /sys/module/realcom ] && ko sysmodule_gone "/sys/module/realcom still there after rmmod"
    ls /dev/ttyR* >/dev/null 2>&1 && ko ttyR_gone "$(ls /dev/ttyR* | head -5 | tr '\n' ' ')still there after rmmod"
    slab_check slab_whole_suite /tmp/slab.before "$SLAB_TOL_SUITE" "$SLAB_RE"
    left=$(slab_new_caches /tmp/slab.before /tmp/slab.after)
    if [ -n "$left" ]; then ko slab_caches_gone "caches that appeared with the module remain:"; echo "$left"; else ok slab_caches_gone; fi
    # second load: only the cycles, against a warmed-up baseline
    slab_snapshot /tmp/slab.before2
    if insmod /realcom.ko; then
        run_case cycles_1000
        run_case bind_cycles
        if rmmod realcom; then
            ok rmmod_after_cycles
            slab_check slab_cycles /tmp/slab.before2 "$SLAB_TOL_CYCLES" "$SLAB_RE"
        else
            ko rmmod_after_cycles "rmmod failed (refcnt $(cat /sys/module/realcom/refcnt 2>/dev/null))"
        fi
    else
        ko insmod_again "second insmod failed"
    fi
else
    ko rmmod "rmmod realcom failed (refcnt $(cat /sys/module/realcom/refcnt 2>/dev/null); holders: $(ls /sys/module/realcom/holders 2>/dev/null))"
fi
finish
