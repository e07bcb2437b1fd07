#!/bin/sh
# In the guest, after realcom.ko is loaded: nportsim (line-rate pacing) and
# realcomd with the kernel backend on loopback, then the e2e program on
# /dev/ttyR0.  Prints PASS/FAIL lines like guest.sh.  Needs realcomd,
# nportsim and e2e in PATH (tests/vm/run puts them in /usr/local/bin).
set -u
for b in realcomd nportsim e2e; do
    command -v $b >/dev/null || { echo "FAIL e2e: $b is not in the guest"; exit 1; }
done
mkdir -p /tmp/sim /run/realcom
nportsim --ports 1 --line-rate on --pty-dir /tmp/sim --control /tmp/sim/control \
    --data-base 20950 --command-base 20966 >/tmp/sim/log 2>&1 &
sim=$!
cat >/tmp/realcom.conf <<CONF
[global]
backend = kernel
control_socket = /run/realcom/control

[ttyR0]
host = 127.0.0.1
data_port = 20950
command_port = 20966
keepalive = 5
CONF
realcomd -f -c /tmp/realcom.conf >/tmp/realcomd.log 2>&1 &
daemon=$!
# bounded wait for both to be ready (the condition, then a short pause)
i=0
while [ $i -lt 100 ] && ! { [ -e /dev/ttyR0 ] && [ -S /tmp/sim/control ]; }; do
    i=$((i + 1)); sleep 0.1
done
if [ ! -e /dev/ttyR0 ]; then
    echo "FAIL e2e: /dev/ttyR0 did not appear"; cat /tmp/realcomd.log; kill $sim; exit 1
fi
e2e /dev/ttyR0 /tmp/sim/control /tmp/sim/port1 $daemon
r=$?
[ $r -eq 0 ] || { echo "--- realcomd log"; cat /tmp/realcomd.log; echo "--- nportsim log"; cat /tmp/sim/log; }
kill $sim $daemon 2>/dev/null
wait 2>/dev/null
exit $r
