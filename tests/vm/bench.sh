#!/bin/sh
# Guest side of tests/bench/vm: the same round trip and bulk echo through
# /dev/ttyR0 (realcomd, kernel backend, nportsim --echo) and through a socat
# relay (pty <-> TCP <-> echo) in the same guest, the anchor.  Prints BENCH lines.
set -u
mkdir -p /tmp/sim /run/realcom
socat TCP-LISTEN:30000,bind=127.0.0.1,reuseaddr,fork,nodelay EXEC:cat 2>/dev/null &
echo_pid=$!
# the relay retries its connect until the echo server listens (bounded)
socat PTY,link=/tmp/relay,raw,echo=0 TCP:127.0.0.1:30000,nodelay,retry=100,interval=0.1 2>/dev/null &
relay_pid=$!
e2e --wait 10 /tmp/relay
vmbench /tmp/relay relay 1000 16777216
kill $relay_pid $echo_pid 2>/dev/null

nportsim --ports 1 --echo --pty-dir /tmp/sim --control /tmp/sim/control \
    --data-base 20950 --command-base 20966 >/tmp/sim/log 2>&1 &
sim=$!
printf '[global]\nbackend = kernel\ncontrol_socket = /run/realcom/control\n[ttyR0]\nhost = 127.0.0.1\ndata_port = 20950\ncommand_port = 20966\n' >/tmp/realcom.conf
realcomd -f -c /tmp/realcom.conf >/tmp/realcomd.log 2>&1 &
daemon=$!
e2e --wait 10 /dev/ttyR0
vmbench /dev/ttyR0 realcomd-kernel 1000 16777216 || { echo "--- realcomd log"; cat /tmp/realcomd.log; }
kill $daemon $sim 2>/dev/null
wait 2>/dev/null
echo "BENCH-DONE"
