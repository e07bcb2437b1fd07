#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd's configuration end to end: realcomd -t and a reload refuse a bad
file (not text, empty values, unreadable TLS files, a tty or [global] twice,
two ttys on one device port) naming every problem, and a refused reload
leaves every port as it was; a reload that changes a port's connection
(keepalive, host, ports, protocol, TLS) keeps its tty, so an application
that holds it open goes on using the same descriptor, against nportsim and
ser2net."""
import os
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import (DEADLINE, REALCOMD, Certs, Realcomd, Sim, echo, open_tty, read_n,  # noqa: E402
                   realcom_port, ser2net_line, wait_for, write_all)

CERTS = Certs()
setUpModule = CERTS.setup
tearDownModule = CERTS.teardown


def check(text):
    """realcomd -t on a realcom.conf holding text (bytes or str)."""
    d = tempfile.mkdtemp(prefix="realcomd-check-")
    try:
        path = os.path.join(d, "realcom.conf")
        with open(path, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        return subprocess.run([REALCOMD, "-t", "-c", path], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=DEADLINE)
    finally:
        shutil.rmtree(d)


class Check(unittest.TestCase):
    """realcomd -t: exit 1 and every problem as FILE:LINE: message."""

    def refused(self, text, *lines):
        r = check(text)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        got = r.stderr.splitlines()
        for want in lines:
            self.assertTrue(any(line.endswith("realcom.conf:" + want) for line in got),
                            f"{want!r} not in:\n{r.stderr}")
        self.assertEqual(len(got), len(lines), r.stderr)
        return r

    def test_nul_bytes(self):
        # was "ok, 0 ports"
        self.refused(b"\0" * 64, "1: not text: a NUL byte at column 1")
        self.refused(b"[ttyR0]\nhost = 192.0.2.1\0\n", "2: not text: a NUL byte at column 17")

    def test_binary(self):
        with open(REALCOMD, "rb") as f:
            blob = f.read(8192)
        r = check(blob)
        self.assertEqual(r.returncode, 1)
        self.assertIn("realcom.conf:1: not text:", r.stderr)
        self.assertRegex(r.stderr, r"realcom\.conf: \d+ more lines that are not text")
        self.assertLess(len(r.stderr.splitlines()), 10, r.stderr)
        self.refused("[ttyR0]\nhost = caf\xe9.example\n".encode("latin-1"),
                     "2: not text: bytes that are not UTF-8 at column 11")

    def test_every_problem_at_once(self):
        self.refused("[global]\n"                       # 1
                     "backend = pty\n"                  # 2
                     "[ttyR0]\n"                        # 3
                     "host =\n"                         # 4
                     "keepalive = 0\n"                  # 5
                     "[ttyR1]\n"                        # 6
                     "hots = 192.0.2.1\n"               # 7
                     "[ttyR1]\n"                        # 8
                     "host = 192.0.2.1\n"               # 9
                     "[global]\n"                       # 10
                     "[tty2]\n"                         # 11
                     "host = 192.0.2.2\n",              # 12
                     "4: [ttyR0]: host has no value",
                     "5: [ttyR0]: keepalive = '0': expected a whole number from 1 to 3600",
                     "7: [ttyR1]: unknown key 'hots' (did you mean 'host'?)",
                     "6: [ttyR1]: missing key 'host'",
                     "8: [ttyR1]: appears twice (first on line 6)",
                     "10: [global]: appears twice (first on line 1)",
                     "11: unknown section [tty2] (did you mean [ttyR2]?)")

    def test_host_shape_and_header_text(self):
        self.refused("[ttyR0] junk\n"                   # 1
                     "host = a b c\n"                   # 2
                     "[ttyR1] ; a comment is fine\n"    # 3
                     "host = 192.0.2.1\n"               # 4
                     "backup_host = x..y\n",            # 5
                     "1: text after the section header: 'junk'",
                     "2: [ttyR0]: host = 'a b c': expected a host name or an IP address",
                     "5: [ttyR1]: backup_host = 'x..y': expected a host name or an IP address")

    def test_tls_files_must_be_readable(self):
        d = tempfile.mkdtemp(prefix="realcomd-tls-")
        self.addCleanup(shutil.rmtree, d)
        ca = os.path.join(d, "ca.pem")
        shutil.copy(CERTS.path("ca.pem"), ca)
        self.refused(f"[ttyR0]\nhost = 192.0.2.1\ntls = on\ntls_ca = {d}/missing.pem\n"
                     f"tls_cert = {d}\ntls_key = {d}/no.key\n",
                     f"4: [ttyR0]: tls_ca = '{d}/missing.pem': cannot read it: "
                     "No such file or directory",
                     f"5: [ttyR0]: tls_cert = '{d}': not a regular file",
                     f"6: [ttyR0]: tls_key = '{d}/no.key': cannot read it: "
                     "No such file or directory")
        r = check(f"[ttyR0]\nhost = 192.0.2.1\ntls = on\ntls_ca = {ca}\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_paths_from_root(self):
        """A detached realcomd runs in /: a relative path that -t would
        find from here would not be found there."""
        self.refused("[global]\npty_dir = dev\ncontrol_socket = run/control\n"
                     "[ttyR0]\nhost = a\ntls = on\ntls_ca = ca.pem\n",
                     "2: [global]: pty_dir = 'dev': a relative path: give it from / "
                     "(realcomd runs there)",
                     "3: [global]: control_socket = 'run/control': a relative path: give it "
                     "from / (realcomd runs there)",
                     "7: [ttyR0]: tls_ca = 'ca.pem': a relative path: give it from /")

    def test_one_tty_per_device_port(self):
        self.refused("[ttyR0]\nhost = unit.example\nport = 2\n"
                     "[ttyR1]\nhost = UNIT.example\nport = 2\n",
                     "4: [ttyR1]: host UNIT.example port 2 is mapped by [ttyR0] already: "
                     "one tty per device port")
        # the same TCP port given by hand, or the default one of another port number
        self.refused("[ttyR0]\nhost = a\nprotocol = rfc2217\ntcp_port = 7000\n"
                     "[ttyR1]\nhost = a\nprotocol = rfc2217\nport = 2\ntcp_port = 7000\n",
                     "5: [ttyR1]: host a TCP port 7000 is [ttyR0]'s already: "
                     "one tty per device port")
        self.refused("[ttyR0]\nhost = a\ndata_port = 951\n[ttyR1]\nhost = a\nport = 2\n",
                     "4: [ttyR1]: host a TCP port 951 is [ttyR0]'s already: "
                     "one tty per device port")
        # other hosts, other ports, or ser2net's ports on one host are fine
        r = check("[ttyR0]\nhost = a\n[ttyR1]\nhost = b\n[ttyR2]\nhost = a\nport = 2\n"
                  "[ttyR3]\nhost = c\nprotocol = rfc2217\ntcp_port = 7000\n"
                  "[ttyR4]\nhost = c\nprotocol = rfc2217\ntcp_port = 7001\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok, 5 ports", r.stdout)

    def test_every_boolean_spelling(self):
        for word in ("on", "off", "yes", "no", "true", "false", "1", "0"):
            r = check(f"[ttyR0]\nhost = a\ntls = on\ntls_fingerprint = sha256:{'AB:' * 31}AB\n"
                      f"tls_verify = {word}\n")
            self.assertEqual(r.returncode, 0, f"{word}: {r.stderr}")
        self.refused("[ttyR0]\nhost = a\ntls_verify = enabled\n",
                     "3: [ttyR0]: tls_verify = 'enabled': expected one of off, on, no, yes, "
                     "false, true, 0, 1")


class RefusedReload(unittest.TestCase):
    """A refused reload answers every problem and changes nothing."""

    def setUp(self):
        self.sim = Sim("--echo", ports=2)
        self.addCleanup(self.sim.close)
        self.ports = {0: realcom_port(self.sim, 1), 1: realcom_port(self.sim, 2)}
        self.d = Realcomd(self.ports)
        self.addCleanup(self.d.close)
        self.fd = open_tty(self.d.tty(0))
        self.addCleanup(os.close, self.fd)
        self.d.wait_state("up")
        self.assertEqual(echo(self.fd, b"before"), b"before")

    def reload_refused(self, text, *lines):
        with open(self.d.path("realcom.conf"), "wb") as f:
            f.write(text)
        r = self.d.realcomctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        got = r.stderr.splitlines()
        for want in lines:
            self.assertIn(f"realcomctl: {self.d.path('realcom.conf')}:{want}", got)
        self.assertEqual(len(got), len(lines), r.stderr)
        # every port as it was: the same ttys, the same session, data flows
        status = self.d.ctl(cmd="status")["ports"]
        self.assertEqual([p["tty"] for p in status], ["ttyR0", "ttyR1"])
        self.assertEqual((status[0]["state"], status[0]["connects"]), ("up", 1))
        self.assertEqual(self.sim.port(1)["sessions"], 1)
        self.assertEqual(echo(self.fd, b"after"), b"after")

    def test_nul_file(self):
        self.reload_refused(b"\0" * 4096, "1: not text: a NUL byte at column 1")

    def test_many_problems(self):
        with open(self.d.path("realcom.conf"), "rb") as f:
            good = f.read()
        n = good.count(b"\n") + 1      # the line of [ttyR5]
        self.reload_refused(good + b"[ttyR5]\nhost =\nkeepalive = often\n[global]\n"
                            b"[ttyR6]\nhost = 127.0.0.1\n"
                            + f"data_port = {self.sim.data_port(1)}\n".encode(),
                            f"{n + 1}: [ttyR5]: host has no value",
                            f"{n + 2}: [ttyR5]: keepalive = 'often': expected a whole number "
                            "from 1 to 3600",
                            f"{n + 3}: [global]: appears twice (first on line 1)",
                            f"{n + 4}: [ttyR6]: host 127.0.0.1 TCP port {self.sim.data_port(1)} "
                            "is [ttyR0]'s already: one tty per device port")
        self.assertIn("refused, the running configuration stays", self.d.log_text())


    def test_settings_that_do_not_load(self):
        """The file is right but its certificate is not one: the port goes on."""
        empty = self.d.path("empty.pem")
        open(empty, "w").close()
        self.d.write_config({0: realcom_port(self.sim, 1, tls="on", tls_ca=CERTS.path("ca.pem"),
                                             tls_cert=empty, tls_key=empty),
                             1: self.ports[1]})
        r = self.d.realcomctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("not set up (see the log): ttyR0", r.stderr)
        self.assertIn("ttyR0: new settings not applied", self.d.log_text())
        self.assertEqual(echo(self.fd, b"after"), b"after")
        p = self.d.port(0)
        self.assertEqual((p["state"], p["connects"], p["tls"]), ("up", 1, "off"))
        self.assertEqual(self.sim.port(1)["sessions"], 1)


class RenewedReload(unittest.TestCase):
    """A changed section keeps its tty: the application's descriptor works
    before and after, the line settings reach the new peer."""

    def start(self, sim, **keys):
        self.d = Realcomd({0: realcom_port(sim, **keys)})
        self.addCleanup(self.d.close)
        self.fd = open_tty(self.d.tty(0), termios.B4800)
        self.addCleanup(os.close, self.fd)
        self.d.wait_state("up")
        self.assertEqual(echo(self.fd, b"before"), b"before")

    def reload(self, keys):
        self.d.write_config({0: keys})
        r = self.d.realcomctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        # checked once the tty has shown it still works
        self.addCleanup(self.assertIn, "0 changed, 0 removed, 0 unchanged, 1 renewed", r.stdout)

    def test_keepalive_keeps_the_session(self):
        sim = Sim("--echo")
        self.addCleanup(sim.close)
        self.start(sim)
        self.reload(realcom_port(sim, keepalive=3))
        self.assertEqual(echo(self.fd, b"after"), b"after")
        self.assertIn("ttyR0: applied to the connection", self.d.log_text())
        p = self.d.port()
        self.assertEqual((p["state"], p["connects"]), ("up", 1))
        self.assertEqual(sim.port()["sessions"], 1)

    def test_new_host_and_ports(self):
        a, b = Sim("--echo"), Sim("--echo")
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.start(a)
        self.reload(realcom_port(b, host="localhost"))
        self.assertEqual(echo(self.fd, b"after"), b"after")
        b.wait_port("4800 baud on the new unit", lambda p: p["connected"] and p["baud"] == 4800)
        a.wait_port("the old unit left", lambda p: not p["connected"])
        self.assertIn("ttyR0: session renewed", self.d.log_text())
        self.assertEqual(self.d.port()["host"], "localhost")

    def test_tls_on(self):
        plain = Sim("--echo")
        self.addCleanup(plain.close)
        tls = Sim("--echo", "--tls", "on", "--cert", CERTS.path("server.pem"), "--key",
                  CERTS.path("server.key"))
        self.addCleanup(tls.close)
        self.start(plain)
        self.reload(realcom_port(tls, tls="on", tls_ca=CERTS.path("ca.pem")))
        self.assertEqual(echo(self.fd, b"after"), b"after")
        tls.wait_port("4800 baud over TLS", lambda p: p["connected"] and p["baud"] == 4800)
        self.assertIn("TLSv1.3", self.d.wait_state("up")["tls_info"])

    def mid_stream(self, old, old_line, new, new_line, whole=True):
        """A reload during production: the session first sends what it took,
        so the old unit's line gets the start of the stream and the new unit
        the rest, in order, nothing dropped (a reset at once lost what
        realcomd and the old unit's socket held).  Without whole, the old
        server may lose the end of what it took when the session ends (an
        RFC 2217 server's TCP having it is all a drain can know): its line
        then gets a prefix, the new one the rest, never a byte twice."""
        self.d = Realcomd({0: old})
        self.addCleanup(self.d.close)
        self.fd = open_tty(self.d.tty(0), termios.B921600)
        self.addCleanup(os.close, self.fd)
        self.d.wait_state("up")
        data = bytes(range(256)) * 512         # 128 KiB: 1.4 s of line, twice the unit's queue
        write_all(self.fd, data)
        self.reload(new)
        write_all(self.fd, b"after")
        lines = (old_line, new_line)
        got = {fd: bytearray() for fd in lines}
        end = time.monotonic() + DEADLINE
        while sum(map(len, got.values())) < len(data) + 5 and time.monotonic() < end:
            r, _, _ = select.select(lines, [], [], 0.5)
            if not r and not whole and got[new_line].endswith(b"after"):
                break           # all there is: the new line has the end, the old is quiet
            for fd in r:
                got[fd] += os.read(fd, 65536)
        self.assertEqual(self.d.port()["stale_dropped"], 0)
        self.assertNotIn("dropped", self.d.log_text())
        if whole:
            self.assertEqual(got[old_line] + got[new_line], data + b"after")
        else:
            self.assertTrue(data.startswith(got[old_line]))
            self.assertTrue((data + b"after").endswith(got[new_line]))
            self.assertGreaterEqual(len(got[old_line]) + len(got[new_line]), len(data) * 9 // 10)
        return len(got[old_line])

    def sim_line(self, mode, *args):
        """nportsim and its serial line (the pty it writes the port's data to)."""
        sim = Sim(*args, mode=mode)
        self.addCleanup(sim.close)
        fd = sim.open_pty()
        self.addCleanup(os.close, fd)
        return sim, fd

    def test_mid_stream_realcom(self):
        a, a_line = self.sim_line("realcom", "--line-rate", "on")
        b, b_line = self.sim_line("realcom")
        old = self.mid_stream(realcom_port(a), a_line, realcom_port(b), b_line)
        self.assertGreater(old, 65536)
        self.assertEqual(a.port()["baud"], 921600)

    def test_mid_stream_rfc2217(self):
        a, a_line = self.sim_line("rfc2217", "--line-rate", "on")
        b, b_line = self.sim_line("rfc2217")
        old = self.mid_stream({"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": a.tcp_base + 1},
                              a_line,
                              {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": b.tcp_base + 1},
                              b_line)
        self.assertGreater(old, 65536)
        self.assertEqual(a.port()["baud"], 921600)

    def test_mid_stream_from_ser2net(self):
        port, pair = ser2net_line(self, "config-ser2net-")
        dev = os.open(pair.b, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.addCleanup(os.close, dev)
        termios.tcsetattr(dev, termios.TCSANOW, raw_attrs(dev))
        b, b_line = self.sim_line("realcom")
        self.mid_stream({"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": port}, dev,
                        realcom_port(b), b_line, whole=False)

    def same_unit_closed_during_the_renewal(self, mode):
        """A reload that renews the session to the same unit (another name
        for it), slow to answer; the application writes a command and
        closes.  The new connection waits for the old one to be gone (a unit
        that takes one client per port refused it, the port backed off, and
        the close then dropped the command as if the unit were unreachable)."""
        with Sim(mode=mode) as sim:
            keys = {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": sim.tcp_base + 1} \
                if mode == "rfc2217" else realcom_port(sim)
            with Realcomd({0: keys}) as d:
                line = sim.open_pty()
                fd = open_tty(d.tty(0))
                try:
                    d.wait_state("up")
                    sim.ok(cmd="stall", port=1, ms=1000)
                    d.write_config({0: dict(keys, host="localhost")})
                    self.assertEqual(d.realcomctl("reload").returncode, 0)
                    write_all(fd, b"START PUMP 3\n")
                finally:
                    os.close(fd)
                self.assertEqual(read_n(line, 13), b"START PUMP 3\n")
                os.close(line)
                self.assertEqual(d.port()["stale_dropped"], 0)

    def test_same_unit_closed_during_the_renewal(self):
        self.same_unit_closed_during_the_renewal("realcom")

    def test_same_unit_closed_during_the_renewal_rfc2217(self):
        self.same_unit_closed_during_the_renewal("rfc2217")

    def test_status_shows_settings_waiting(self):
        """While the old session drains (a stalled unit answers no drain),
        status says which settings wait; then the new unit takes over."""
        a, b = Sim("--echo"), Sim("--echo")
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.start(a)
        a.ok(cmd="stall", port=1, ms=2000)
        self.reload(realcom_port(b, host="localhost"))
        p = self.d.port()
        self.assertEqual((p["state"], p["host"], p["pending_host"]), ("up", "127.0.0.1", "localhost"))
        r = self.d.realcomctl("status")
        self.assertIn("new settings (host localhost) once this session has drained", r.stdout)
        p = wait_for(lambda: (lambda p: p if p["state"] == "up" and not p["pending_host"] else None)(
            self.d.port()), "the new settings to take over")
        self.assertEqual(p["host"], "localhost")
        self.assertEqual(echo(self.fd, b"after"), b"after")
        self.assertNotIn("new settings", self.d.realcomctl("status").stdout)

    def test_protocol_to_rfc2217_nportsim(self):
        rc, rf = Sim("--echo"), Sim("--echo", mode="rfc2217")
        self.addCleanup(rc.close)
        self.addCleanup(rf.close)
        self.start(rc)
        self.reload({"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": rf.tcp_base + 1})
        self.assertEqual(echo(self.fd, b"after"), b"after")
        rf.wait_port("4800 baud over RFC 2217", lambda p: p["connected"] and p["baud"] == 4800)
        self.assertEqual(self.d.wait_state("up")["protocol"], "rfc2217")

    def test_protocol_to_rfc2217_ser2net(self):
        rc = Sim("--echo")
        self.addCleanup(rc.close)
        port, pair = ser2net_line(self, "config-ser2net-")
        self.start(rc)
        self.reload({"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": port})
        dev = os.open(pair.b, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.addCleanup(os.close, dev)
        termios.tcsetattr(dev, termios.TCSANOW, raw_attrs(dev))
        write_all(self.fd, b"to the device")
        self.assertEqual(read_n(dev, 13), b"to the device")
        write_all(dev, b"from the device")
        self.assertEqual(read_n(self.fd, 15), b"from the device")

        def speed():
            fd = os.open(pair.a, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                return termios.tcgetattr(fd)[4]
            finally:
                os.close(fd)
        wait_for(lambda: speed() == termios.B4800, "4800 baud on ser2net's tty")
        self.assertEqual(self.d.port()["protocol"], "rfc2217")


def raw_attrs(fd):
    a = termios.tcgetattr(fd)
    a[0] = a[1] = a[3] = 0
    a[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
    return a


if __name__ == "__main__":
    unittest.main(verbosity=2)
