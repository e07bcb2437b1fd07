#!/bin/sh
# In the guest, after realcom.ko is loaded: nportsim (line-rate pacing) and
# realcomd with the kernel backend on loopback, then the e2e program on
# /dev/ttyR2 (a unit speaking RFC 2217) and /dev/ttyR0 (Real COM; last, as it
# kills realcomd).  Prints PASS/FAIL lines like guest.sh.  Needs realcomd,
# nportsim and e2e in PATH (tests/vm/run puts them in /usr/local/bin).
set -u
for b in realcomd realcomctl nportsim e2e; do
    command -v $b >/dev/null || { echo "FAIL e2e: $b is not in the guest"; exit 1; }
done
mkdir -p /tmp/sim /run/realcom
nportsim --ports 1 --line-rate on --pty-dir /tmp/sim --control /tmp/sim/control \
    --data-base 20950 --command-base 20966 >/tmp/sim/log 2>&1 &
sim=$!
mkdir -p /tmp/echo
nportsim --ports 1 --echo --pty-dir /tmp/echo --control /tmp/echo/control \
    --data-base 21950 --command-base 21966 >/tmp/echo/log 2>&1 &
echo_sim=$!
mkdir -p /tmp/rfc
nportsim --ports 1 --mode rfc2217 --line-rate on --pty-dir /tmp/rfc --control /tmp/rfc/control \
    --tcp-base 22000 >/tmp/rfc/log 2>&1 &
rfc_sim=$!
cat >/tmp/realcom.conf <<CONF
[global]
backend = kernel
control_socket = /run/realcom/control

[ttyR0]
host = 127.0.0.1
data_port = 20950
command_port = 20966
keepalive = 5

[ttyR1]
host = 127.0.0.1
data_port = 21950
command_port = 21966
keepalive = 10

[ttyR2]
host = 127.0.0.1
protocol = rfc2217
tcp_port = 22001
keepalive = 5
CONF
realcomd -f -c /tmp/realcom.conf >/tmp/realcomd.log 2>&1 &
daemon=$!
# until the simulators and the ttys are there (e2e --wait: inotify, 10 s at most)
if ! e2e --wait 10 /tmp/sim/control /tmp/echo/control /tmp/rfc/control \
    /dev/ttyR0 /dev/ttyR1 /dev/ttyR2; then
    echo "FAIL e2e: the simulators' control sockets or the ttys did not appear"
    cat /tmp/realcomd.log; kill $sim $echo_sim $rfc_sim $daemon; exit 1
fi
# 16 MiB out and back through ttyR1, whose simulated device echoes
e2e --bulk /dev/ttyR1 16777216
bulk=$?
# the label udev names the port by (/dev/serial/realcom/<host>-<port>)
label=$(cat /sys/class/tty/ttyR0/label 2>&1)
if [ "$label" = "127.0.0.1-1" ]; then echo "PASS e2e_label"
else echo "FAIL e2e_label: /sys/class/tty/ttyR0/label is \"$label\", want \"127.0.0.1-1\""; fi
e2e --rfc2217 /dev/ttyR2 /tmp/rfc/control /tmp/rfc/port1 $daemon /run/realcom/control
rfc=$?
# Reloads while this shell holds ttyR1 open without CLOCAL (fd 3): one that
# moves it to another echoing unit renews its session under the same tty, one
# that changes only keepalive keeps even the session (realcom.conf(5),
# RELOAD).  A hang-up would fail the writes with EIO.
reload=0
reload_fail() { echo "FAIL e2e_reload: $*"; reload=1; }
mkdir -p /tmp/echo2
nportsim --ports 1 --echo --pty-dir /tmp/echo2 --control /tmp/echo2/control \
    --data-base 23950 --command-base 23966 >/tmp/echo2/log 2>&1 &
echo2_sim=$!
e2e --wait 10 /tmp/echo2/control || reload_fail "the second unit did not start"
exec 3<>/dev/ttyR1
stty -F /dev/ttyR1 raw -echo -clocal || reload_fail "stty -clocal"
reload_echo() {
    printf "$1" >&3 || { reload_fail "$2: write: hung up?"; return; }
    got=$(timeout 10 head -c ${#1} <&3)
    [ "$got" = "$1" ] || reload_fail "$2: echo '$got', want '$1'"
}
reload_echo before "before the reloads"
sed -i 's/^data_port = 21950$/data_port = 23950/; s/^command_port = 21966$/command_port = 23966/' \
    /tmp/realcom.conf
realcomctl reload | grep -q '1 renewed' || reload_fail "the move: not renewed"
reload_echo moved "after the move"
# the status table shows a Real COM peer as "HOST port N": the JSON has the
# address connected to (only ttyR1 moved to 23950)
realcomctl status --json | grep -q '"peer": *"127.0.0.1:23950"' ||
    reload_fail "ttyR1 is not on the second unit"
connects=$(realcomctl status --json | grep '"connects"')
sed -i 's/^keepalive = 10$/keepalive = 7/' /tmp/realcom.conf
realcomctl reload | grep -q '1 renewed' || reload_fail "keepalive: not applied"
reload_echo kept "after the keepalive change"
[ "$(realcomctl status --json | grep '"connects"')" = "$connects" ] ||
    reload_fail "the keepalive change reconnected"
exec 3<&-
kill $echo2_sim 2>/dev/null
[ $reload = 0 ] && echo "PASS e2e_reload"
e2e /dev/ttyR0 /tmp/sim/control /tmp/sim/port1 $daemon /run/realcom/control
r=$?
[ "$label" = "127.0.0.1-1" ] && [ $bulk = 0 ] && [ $rfc = 0 ] && [ $reload = 0 ] || r=1
[ $r -eq 0 ] || { echo "--- realcomd log"; cat /tmp/realcomd.log; echo "--- nportsim log";
    cat /tmp/sim/log; echo "--- nportsim (rfc2217) log"; cat /tmp/rfc/log; }
kill $sim $echo_sim $rfc_sim $daemon 2>/dev/null
wait 2>/dev/null
exit $r
