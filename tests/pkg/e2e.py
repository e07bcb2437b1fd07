#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The installed packages end to end, as the README's Install section uses
them: the installed nportsim (a new unit with two echoing ports on
127.0.0.1) stands in for a unit, the installed dsu creates its administrator
and maps its ports into the installed /etc/realcom/realcom.conf, and
the installed /usr/sbin/realcomd runs with its defaults (pty backend here:
this host cannot load realcom.ko), so /run/realcom/ttyR0 is the mapped port.

Runs realcomd under strace (when there is one) and checks that every system
call it made is allowed by the SystemCallFilter= of the installed unit,
which systemd applies but this host (systemd is not PID 1) cannot.
Checks readiness (READY=1 on $NOTIFY_SOCKET once every port has its tty,
before anything connects), data both ways through ttyR0, realcomctl status
and reload on the default control socket, and STOPPING=1 with the links
removed on SIGTERM.  Prints "PASS what" or "FAIL what: why" per check.
Leaves /etc/realcom/realcom.conf with the two ports (tests/pkg/run checks
that an upgrade keeps it)."""
import os
import signal
import socket
import subprocess
import sys
import tempfile

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(top, "integration"))
os.environ.setdefault("NPORTSIM", "/usr/bin/nportsim")
from itlib import echo, open_tty, sd_notice, stop, wait_for, Unit  # noqa: E402

REALCOMD = "/usr/sbin/realcomd"
UNIT = "/lib/systemd/system/realcomd.service"
STRACE = "/usr/bin/strace"
REALCOMCTL = "/usr/sbin/realcomctl"
CONF = "/etc/realcom/realcom.conf"
RUN = "/run/realcom"

passed = failed = 0


def check(what, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"PASS {what}")
    else:
        failed += 1
        print(f"FAIL {what}: {why}")
    return cond


def exchange(path, data):
    """An application's round trip through a mapped tty: what came back, or
    why nothing did (a str, never equal to data)."""
    fd = open_tty(path)
    try:
        return echo(fd, data)
    except AssertionError as e:
        return str(e)
    finally:
        os.close(fd)


def unit_syscalls():
    """The system calls SystemCallFilter= in the unit allows (allow lists
    first, then the ~ lists taken away), by systemd-analyze's own groups."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"],
                         capture_output=True, text=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())

    def expand(names):
        res = set()
        for n in names:
            res |= expand(groups.get(n, [])) if n.startswith("@") else {n}
        return res
    allowed = None
    for line in open(UNIT):
        if not line.startswith("SystemCallFilter="):
            continue
        v = line.split("=", 1)[1].strip()
        if v.startswith("~"):
            allowed -= expand(v[1:].split())
        else:
            allowed = (allowed or set()) | expand(v.split())
    return allowed


def straced_syscalls(path):
    """System call names from strace -c output."""
    names = set()
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] not in ("total",):
            names.add(f[-1])
    return names


def dsu(*args, home):
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "DSU_PASSWORD": "installed and mapped"}
    return subprocess.run(["/usr/bin/dsu", *args], capture_output=True, text=True, timeout=60,
                          env=env, stdin=subprocess.DEVNULL)


def realcomctl(*args):
    return subprocess.run([REALCOMCTL, *args], capture_output=True, text=True, timeout=10)


def main():
    if os.path.exists(f"{RUN}/control"):
        with socket.socket(socket.AF_UNIX) as s:
            if s.connect_ex(f"{RUN}/control") == 0:
                check("no other realcomd on /run/realcom/control", False,
                      "one is running: not ours to stop")
                return
    scratch = tempfile.mkdtemp(prefix="realcom-pkg-e2e-")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(scratch, "notify"))
    log_path = os.path.join(scratch, "realcomd.log")
    sim = Unit("--echo", "--factory", ports=2)
    unit = sim.host
    home = os.path.join(scratch, "home")
    os.mkdir(home, 0o700)
    d = None
    try:
        installed = open(CONF).read()
        # the README's way: a new unit gets its administrator, then its port 1 is mapped
        r = dsu("setup", unit, "--user", "admin", home=home)
        check("installed dsu sets up the simulated unit", r.returncode == 0,
              r.stdout + r.stderr)
        r = dsu("map", "--yes", unit, "--user", "admin", "--ports", "1", home=home)
        check("installed dsu maps port 1 into the installed config (realcomd not running yet)",
              r.returncode == 0 and "[ttyR0]" in open(CONF).read() and
              "the ports appear when it starts" in r.stderr, r.stdout + r.stderr)
        r = subprocess.run([REALCOMD, "-t"], capture_output=True, text=True)
        check("realcomd -t reads the installed config with a port added",
              r.returncode == 0 and "1 port" in r.stdout, r.stdout + r.stderr)

        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(scratch, "notify"))
        trace = os.path.join(scratch, "strace.txt")
        wrap = [STRACE, "-f", "-c", "-o", trace] if os.access(STRACE, os.X_OK) else []
        check("strace is there to see realcomd's system calls", wrap, f"no {STRACE}")
        with open(log_path, "w") as log:
            d = subprocess.Popen([*wrap, REALCOMD, "-f", "-v"], stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
        msg = sd_notice(notify, "READY=1")
        link = f"{RUN}/ttyR0"
        check("READY=1 once ttyR0 is set up, not connected",
              "READY=1" in msg and os.path.islink(link) and sim.port(1)["connected"] is False,
              f"notify {msg!r}, link {os.path.islink(link)} (log: {log_path})")

        line = b"hello through the installed realcomd\n"
        back = exchange(link, line)
        check("data both ways through /run/realcom/ttyR0", back == line,
              f"sent {line!r}, got {back!r} (log: {log_path})")
        p = sim.port(1)
        check("the device applied the application's 115200 baud", p["baud"] == 115200,
              f"device status {p}")

        r = realcomctl("status")
        check("realcomctl status on the default socket", r.returncode == 0 and
              "ttyR0" in r.stdout, r.stdout + r.stderr)

        r = dsu("map", "--yes", unit, "--user", "admin", "--ports", "2", home=home)
        check("dsu map adds port 2 and has realcomd reload", r.returncode == 0 and
              f"{RUN}/ttyR1\tport 2" in r.stdout, r.stdout + r.stderr)
        r = realcomctl("reload")
        ok = r.returncode == 0
        if ok:
            try:
                wait_for(lambda: os.path.islink(f"{RUN}/ttyR1"), "ttyR1 after reload")
            except AssertionError:
                ok = False
        check("realcomctl reload (ExecReload) maps a new port", ok,
              f"{r.stdout}{r.stderr} (log: {log_path})")
        back = exchange(f"{RUN}/ttyR1", line)
        check("data through the reloaded ttyR1", back == line, f"got {back!r}")
        check("reload left ttyR0 alone", "ttyR0: removed" not in open(log_path).read(),
              f"log: {log_path}")

        pid = d.pid
        if wrap:    # SIGTERM goes to realcomd, strace's child
            pid = int(open(f"/proc/{d.pid}/task/{d.pid}/children").read().split()[0])
        os.kill(pid, signal.SIGTERM)
        msg = sd_notice(notify, "STOPPING=1")
        try:
            rc = d.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        check("SIGTERM: STOPPING=1, exit 0, links removed",
              "STOPPING=1" in msg and rc == 0 and not os.path.lexists(link),
              f"notify {msg!r}, exit {rc} (log: {log_path})")
        d = None
        if wrap:
            made, allowed = straced_syscalls(trace), unit_syscalls()
            check(f"the {len(made)} system calls realcomd made are all in the unit's "
                  "SystemCallFilter=", made and allowed and made <= allowed,
                  f"not allowed: {sorted(made - (allowed or set()))} (trace: {trace})")
        check("the installed config kept its example", open(CONF).read().startswith(installed),
              "the appended sections replaced it")
    finally:
        stop(d)
        sim.close()
        notify.close()
        if not failed:
            subprocess.run(["rm", "-rf", scratch])
    print(f"e2e: {passed} passed, {failed} failed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # an unexpected error is a failed check, not a silent pass
        check("e2e ran to the end", False, repr(e))
    sys.exit(1 if failed else 0)
