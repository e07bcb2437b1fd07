#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dsu over real mDNS and HTTPS between network namespaces (tests/lib/netns.py).

Two simulated units in their own namespaces (192.0.2.10 and .11) and the
control PC in a third (192.0.2.1), each with its own avahi-daemon:
  - search finds both with the right fields (table and JSON);
  - a weak password is refused by dsu before sending, and by the device (422);
  - setup succeeds once and gets 409 the second time; mDNS then says ready;
  - failed logins end in a lockout reported with the wait time;
  - a changed certificate is refused until confirmed with --fingerprint;
  - map writes a config realcomd accepts, and data then flows through the
    mapped tty to the simulated unit's serial side and back.
The tests share one lab and run in order (test_1 ... test_6).  Needs root;
fails (never skips) without it.  On a failure the logs are kept in the
directory the message names."""
import configparser
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import tty
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netns  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sim"))
import simlib  # noqa: E402
from simlib import read_n, stop, write_all  # noqa: E402

DSU = os.environ.get("DSU", "dsu")
NPORTSIM = os.environ.get("NPORTSIM", "nportsim")
REALCOMD = os.environ.get("REALCOMD", "realcomd")
REALCOMCTL = os.environ.get("REALCOMCTL", "realcomctl")
DEADLINE = 30.0
wait_for = functools.partial(simlib.wait_for, timeout=DEADLINE, interval=0.05)
GOOD_PASSWORD = "correct-horse-battery-1"
LOCKOUT_FAILURES = 3
LOCKOUT_SECONDS = 3
# a stricter first-account policy on unit 1, so a password dsu lets through
# (its local check knows only the default 8) reaches the device and gets 422
DEVICE_MIN_PASSWORD = 12

UNITS = {
    "dev1": {"ip": "192.0.2.10", "name": "lab-unit-a", "mac": "00:90:E8:00:00:0A",
             "model": "NPort 6150-G2"},
    "dev2": {"ip": "192.0.2.11", "name": "lab-unit-b", "mac": "00:90:E8:00:00:0B",
             "model": "NPort 6250-G2"},
}




def ask_unix(path, req):
    """One JSON request on a control socket (nportsim's or realcomd's)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        for _ in range(10000):
            if buf.endswith(b"\n"):
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def parse_table(text):
    """Rows of a fixed-width table as dicts, columns cut at the header's words."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for ln in lines[1:]:
        cells = [ln[a:b].strip() for a, b in zip(starts, starts[1:] + [len(ln) + 1])]
        rows.append(dict(zip(names, cells)))
    return rows


def open_raw(path):
    """Open a tty the way a serial program does: raw, non-blocking."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd, termios.TCSANOW)
    return fd


class DsuNetns(unittest.TestCase):
    keep = True         # keep the logs unless everything passed

    @classmethod
    def setUpClass(cls):
        why = netns.missing()
        if why:
            raise AssertionError(why)
        cls.dir = tempfile.mkdtemp(prefix="dsu-netns-")
        cls.addClassCleanup(cls.cleanup)
        cls.home = os.path.join(cls.dir, "home")
        os.mkdir(cls.home, 0o700)
        cls.pwfile = os.path.join(cls.dir, "password")
        fd = os.open(cls.pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (GOOD_PASSWORD + "\n").encode())
        os.close(fd)
        cls.sims = {}
        cls.realcomd = None
        cls.lab = netns.Lab(timeout=300)
        cls.ns = {}
        for key, addr in (("dev1", "192.0.2.10/24"), ("dev2", "192.0.2.11/24"),
                          ("host", "192.0.2.1/24")):
            cls.ns[key] = cls.lab.add(key, addr)
        for ns in cls.ns.values():
            ns.start_avahi()
        cls.host = cls.ns["host"]
        cls.start_sim("dev1", "--min-password", str(DEVICE_MIN_PASSWORD))
        cls.start_sim("dev2")
        cls.keep = False

    @classmethod
    def cleanup(cls):
        # ours first, by pid; then the lab (its daemons, the namespaces)
        stop(cls.realcomd)
        for proc, _, _ in cls.sims.values():
            stop(proc)
        lab = getattr(cls, "lab", None)
        if lab:
            if cls.keep:
                for key, ns in cls.ns.items():
                    if os.path.exists(ns.log_path()):
                        shutil.copy(ns.log_path(), os.path.join(cls.dir, f"avahi-{key}.log"))
            lab.close()
        if cls.keep:
            print(f"\ndsu-netns: logs kept in {cls.dir}", file=sys.stderr)
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            type(self).keep = True
        return result

    # ---- helpers ----

    @classmethod
    def start_sim(cls, key, *extra, tag="1"):
        """nportsim --factory for unit key in its namespace; waits for "ready"."""
        u, ns = UNITS[key], cls.ns[key]
        d = os.path.join(cls.dir, key)
        os.makedirs(d, exist_ok=True)
        log_path = os.path.join(d, f"nportsim-{tag}.log")
        ctl = os.path.join(d, "ctl")
        with open(log_path, "w") as log:
            proc = ns.popen([NPORTSIM, "--factory", "--listen", u["ip"], "--https-port", "443",
                             "--name", u["name"], "--mac", u["mac"], "--model", u["model"],
                             "--ports", "2", "--lockout-failures", str(LOCKOUT_FAILURES),
                             "--lockout-seconds", str(LOCKOUT_SECONDS), "--pty-dir", d,
                             "--control", ctl, *extra], stdout=log, stderr=subprocess.STDOUT)

        def text():
            with open(log_path) as f:
                return f.read()
        wait_for(lambda: proc.poll() is not None or "nportsim: ready\n" in text(),
                 f"nportsim in {key} to start (log: {log_path})")
        if proc.poll() is not None:
            raise AssertionError(f"nportsim in {key} exited {proc.returncode}: see {log_path}:\n"
                                 f"{text()}")
        cls.sims[key] = (proc, d, log_path)

    def where(self):
        return f"(logs: {self.dir})"

    def dsu(self, *args, password=None, timeout=DEADLINE):
        """dsu ARGS on the control PC, with a HOME of our own (known_devices)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DSU_PASSWORD", "XDG_CONFIG_HOME")}
        env["HOME"] = self.home
        if password is not None:
            env["DSU_PASSWORD"] = password
        try:
            r = self.host.run([DSU, *args], timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"dsu {' '.join(args)}: no exit within {timeout} s {self.where()}")
        return r

    def explain(self, r):
        return (f"\n$ dsu {' '.join(r.args[r.args.index('--') + 2:])}\nexit {r.returncode}\n"
                f"stdout:\n{r.stdout}stderr:\n{r.stderr}{self.where()}")

    def sim_status(self, key):
        return ask_unix(os.path.join(self.sims[key][1], "ctl"), {"cmd": "status"})

    def search_until(self, cond, what, json_out=False):
        """Rerun dsu search (bounded) until cond(result) holds; returns the result."""
        last = [None]

        def once():
            r = self.dsu("search", "--timeout", "5", *(["--json"] if json_out else []))
            self.assertEqual(r.returncode, 0, self.explain(r))
            last[0] = r
            found = json.loads(r.stdout) if json_out else parse_table(r.stdout)
            return cond(found) and found
        try:
            return wait_for(once, what, timeout=45, interval=0.2)
        except AssertionError as e:
            self.fail(f"{e}; last search:{self.explain(last[0]) if last[0] else ' none'}")

    # ---- the tests, in order ----

    def test_1_search_finds_both(self):
        def both_new(rows):
            by = {r["NAME"]: r for r in rows}
            return all(u["name"] in by and by[u["name"]]["STATE"] == "needs-setup"
                       for u in UNITS.values())
        rows = self.search_until(both_new, "both units in dsu search (table)")
        by = {r["NAME"]: r for r in rows}
        for u in UNITS.values():
            self.assertEqual(by[u["name"]], {"NAME": u["name"], "MODEL": u["model"],
                                             "MAC": u["mac"], "ADDRESSES": u["ip"],
                                             "FIRMWARE": "1.1", "STATE": "needs-setup"},
                             f"table:\n{rows}{self.where()}")

        found = self.search_until(lambda units: {x["name"] for x in units} >=
                                  {u["name"] for u in UNITS.values()},
                                  "both units in dsu search --json", json_out=True)
        by = {x["name"]: x for x in found}
        for u in UNITS.values():
            got = by[u["name"]]
            self.assertTrue(got["serial"], f"{got}{self.where()}")
            del got["serial"]
            self.assertEqual(got, {"name": u["name"], "model": u["model"], "mac": u["mac"],
                                   "addresses": [u["ip"]], "port": 443, "firmware": "1.1",
                                   "state": "needs-setup", "api": "/api/v1",
                                   "interface": "eth0"}, self.where())

    def test_2_weak_password_refused(self):
        r = self.dsu("info", "192.0.2.10")
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertRegex(r.stdout, r"(?m)^state:\s+needs-setup$", self.explain(r))
        self.assertIn("dsu setup 192.0.2.10 --user NAME", r.stdout, self.explain(r))

        # refused by dsu itself: too short, or a control character
        r = self.dsu("setup", "192.0.2.10", "--user", "admin", password="short")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("password refused before sending: min_length", r.stderr, self.explain(r))
        r = self.dsu("setup", "192.0.2.10", "--user", "admin", password="long\tenough-1")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("control characters", r.stderr, self.explain(r))

        # long enough for dsu's default rule, too short for this unit's policy
        r = self.dsu("setup", "192.0.2.10", "--user", "admin", password="ten-chars1")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("the device refused the password: min_length", r.stderr, self.explain(r))
        self.assertIn(str(DEVICE_MIN_PASSWORD), r.stderr, self.explain(r))

        mgmt = self.sim_status("dev1")["management"]
        self.assertEqual((mgmt["state"], mgmt["accounts"]), ("needs-setup", 0),
                         f"{mgmt}{self.where()}")

    def test_3_setup_once(self):
        r = self.dsu("setup", "192.0.2.10", "--user", "admin", "--password-file", self.pwfile)
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn('administrator "admin" created', r.stdout, self.explain(r))
        mgmt = self.sim_status("dev1")["management"]
        self.assertEqual((mgmt["state"], mgmt["users"]),
                         ("ready", [{"username": "admin", "group": "admin"}]),
                         f"{mgmt}{self.where()}")

        r = self.dsu("setup", "192.0.2.10", "--user", "admin", "--password-file", self.pwfile)
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("already set up", r.stderr, self.explain(r))

        r = self.dsu("info", "192.0.2.10")
        self.assertRegex(r.stdout, r"(?m)^state:\s+ready$", self.explain(r))

        def states(rows):
            by = {x["NAME"]: x["STATE"] for x in rows}
            return (by.get(UNITS["dev1"]["name"]) == "ready" and
                    by.get(UNITS["dev2"]["name"]) == "needs-setup")
        self.search_until(states, "dsu search to show unit a ready, unit b still new")

    def test_4_lockout(self):
        for i in range(LOCKOUT_FAILURES):
            r = self.dsu("info", "192.0.2.10", "--user", "admin", password=f"wrong-password-{i}")
            self.assertEqual(r.returncode, 1, self.explain(r))
            self.assertIn('login refused: wrong user name or password for "admin"', r.stderr,
                          self.explain(r))
        r = self.dsu("info", "192.0.2.10", "--user", "admin", password=GOOD_PASSWORD)
        self.assertEqual(r.returncode, 1, self.explain(r))
        m = re.search(r"locked out after too many failed logins: try again in (-?\d+) s",
                      r.stderr)
        self.assertTrue(m, self.explain(r))
        self.assertTrue(0 < int(m.group(1)) <= LOCKOUT_SECONDS, self.explain(r))
        locked = self.sim_status("dev1")["management"]["lockout"]
        self.assertEqual([x["username"] for x in locked["locked"]], ["admin"],
                         f"{locked}{self.where()}")

        # the lockout ends by itself; then the right password works again
        wait_for(lambda: not self.sim_status("dev1")["management"]["lockout"]["locked"],
                 f"the lockout to end {self.where()}", timeout=LOCKOUT_SECONDS + 10)
        r = self.dsu("info", "192.0.2.10", "--user", "admin", "--password-file", self.pwfile)
        self.assertEqual(r.returncode, 0, self.explain(r))
        rows = parse_table(r.stdout[r.stdout.index("PORT"):])
        self.assertEqual([(x["PORT"], x["MODE"]) for x in rows],
                         [("1", "realcom"), ("2", "realcom")], self.explain(r))

    def test_5_changed_fingerprint(self):
        known = os.path.join(self.home, ".config", "realcom", "known_devices")
        r = self.dsu("info", "192.0.2.11")
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("pinned on first use", r.stderr, self.explain(r))
        old = "sha256:" + self.sim_status("dev2")["management"]["certificate_sha256"]
        with open(known) as f:
            self.assertIn(f"192.0.2.11 {old}\n", f.read(), self.where())
        self.assertEqual(os.stat(known).st_mode & 0o777, 0o600)

        # the same unit restarted: a new self-signed certificate
        proc, _, _ = self.sims.pop("dev2")
        stop(proc)
        self.start_sim("dev2", tag="2")
        new = "sha256:" + self.sim_status("dev2")["management"]["certificate_sha256"]
        self.assertNotEqual(old.lower(), new.lower(), self.where())

        r = self.dsu("info", "192.0.2.11")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("not the one pinned", r.stderr, self.explain(r))
        m = re.search(r"--fingerprint (sha256:[0-9A-Fa-f:]+)", r.stderr)
        self.assertTrue(m, self.explain(r))
        self.assertEqual(m.group(1).lower(), new.lower(), self.explain(r))
        self.assertNotIn("name:", r.stdout, self.explain(r))
        with open(known) as f:
            self.assertIn(f"192.0.2.11 {old}\n", f.read(), "the old pin must stay")

        # a wrong --fingerprint is refused as well
        r = self.dsu("info", "192.0.2.11", "--fingerprint", old)
        self.assertEqual(r.returncode, 1, self.explain(r))

        r = self.dsu("info", "192.0.2.11", "--fingerprint", m.group(1))
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("confirmed: replaced the old pin", r.stderr, self.explain(r))
        self.assertIn(f"name:     {UNITS['dev2']['name']}", r.stdout, self.explain(r))
        with open(known) as f:
            lines = [ln for ln in f.read().splitlines() if ln.startswith("192.0.2.11 ")]
        self.assertEqual([ln.lower() for ln in lines], [f"192.0.2.11 {new}".lower()],
                         self.where())
        r = self.dsu("info", "192.0.2.11")
        self.assertEqual(r.returncode, 0, self.explain(r))

    def test_6_map_and_data(self):
        rdir = os.path.join(self.dir, "realcomd")
        os.mkdir(rdir)
        conf, sock = os.path.join(rdir, "realcom.conf"), os.path.join(rdir, "control")
        log_path = os.path.join(rdir, "realcomd.log")
        with open(conf, "w") as f:
            f.write(f"[global]\nbackend = pty\npty_dir = {rdir}/dev\ncontrol_socket = {sock}\n")
        with open(log_path, "w") as log:
            type(self).realcomd = self.host.popen([REALCOMD, "-f", "-v", "-c", conf],
                                                  stdout=log, stderr=subprocess.STDOUT)
        proc = self.realcomd
        wait_for(lambda: proc.poll() is not None or os.path.exists(sock),
                 f"realcomd's control socket (log: {log_path})")
        self.assertIsNone(proc.poll(), f"realcomd exited; see {log_path}")

        r = self.dsu("map", "--yes", "192.0.2.10", "--user", "admin", "--password-file", self.pwfile,
                     "--ports", "1-2", "--config", conf)
        self.assertEqual(r.returncode, 0, self.explain(r))
        lines = [ln.split("\t") for ln in r.stdout.splitlines() if "\tport " in ln]
        self.assertEqual(lines, [[f"{rdir}/dev/ttyR0", "port 1", "realcom"],
                                 [f"{rdir}/dev/ttyR1", "port 2", "realcom"]], self.explain(r))

        cp = configparser.ConfigParser(interpolation=None)
        cp.read(conf)
        for tty_n, port in ((0, 1), (1, 2)):
            sec = cp[f"ttyR{tty_n}"]
            self.assertEqual({k: sec[k] for k in ("host", "port", "protocol", "data_port",
                                                  "command_port")},
                             {"host": "192.0.2.10", "port": str(port), "protocol": "realcom",
                              "data_port": str(949 + port), "command_port": str(965 + port)},
                             f"{conf}{self.where()}")
        self.assertEqual(cp["global"]["control_socket"], sock)

        r = self.host.run([REALCOMCTL, "-s", sock, "status"])
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}{self.where()}")
        rows = {x["TTY"]: x for x in parse_table(r.stdout)}
        self.assertEqual(sorted(rows), ["ttyR0", "ttyR1"], f"{r.stdout}{self.where()}")
        for x in rows.values():
            self.assertEqual((x["STATE"], x["PROTOCOL"]), ("idle", "realcom"),
                             f"{r.stdout}{self.where()}")

        # data through the mapped tty to unit a's port 1 and back
        def port0():
            for p in ask_unix(sock, {"cmd": "status"})["ports"]:
                if p["tty"] == "ttyR0":
                    return p
            return None
        sim_pty = os.path.join(self.sims["dev1"][1], "port1")
        dev = open_raw(sim_pty)
        self.addCleanup(os.close, dev)
        fd = open_raw(lines[0][0])
        self.addCleanup(os.close, fd)
        wait_for(lambda: (port0() or {}).get("state") == "up",
                 f"ttyR0 to connect (log: {log_path})")
        wait_for(lambda: self.sim_status("dev1")["ports"][0]["connected"],
                 f"unit a's port 1 to see the host {self.where()}")
        out = b"hello from the control PC\r\n\x00\xff"
        write_all(fd, out)
        self.assertEqual(read_n(dev, len(out)), out, self.where())
        back = b"hello from the serial side\n\x01\xfe"
        write_all(dev, back)
        self.assertEqual(read_n(fd, len(back)), back, self.where())


if __name__ == "__main__":
    unittest.main(verbosity=2)
