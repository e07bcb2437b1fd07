#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd end to end with the pty backend against nportsim (Real COM):
termios reaching the device, data both ways, keep-alive, reconnect with the
settings replayed, dead peer, open/close, realcomctl, reload."""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import (DEADLINE, Certs, Realcomd, Sim, echo, open_tty, read_n,  # noqa: E402
                   realcom_port, termios_storm, wait_for, write_all)


class Basics(unittest.TestCase):
    def setUp(self):
        self.sim = Sim("--ports", "2")
        self.d = Realcomd({0: realcom_port(self.sim, 1), 1: realcom_port(self.sim, 2)})

    def tearDown(self):
        self.d.close()
        self.sim.close()

    def test_open_connects_close_disconnects(self):
        self.assertEqual(self.d.port(0)["state"], "idle")   # connect = on-open
        fd = open_tty(self.d.tty(0))
        self.d.wait_state("up")
        self.sim.wait_port("the host", lambda p: p["connected"])
        os.close(fd)
        self.d.wait_state("idle")
        self.sim.wait_port("the host to leave", lambda p: not p["connected"])
        # close: drain (WAIT_OQUEUE in ms), then FLUSH both (docs/realcom-protocol.md)
        log = self.sim.commands()
        self.assertIn("140102", log)
        self.assertTrue(any(h.startswith("2f04") for h in log), log)

    def test_termios_reaches_the_device(self):
        fd = open_tty(self.d.tty(0), termios.B19200)
        try:
            self.d.wait_state("up")
            p = self.sim.wait_port("19200", lambda p: p["baud"] == 19200)
            a = termios.tcgetattr(fd)
            a[2] |= termios.CRTSCTS
            a[0] |= termios.IXON | termios.IXOFF
            a[6][termios.VSTART] = b"\x01"
            a[6][termios.VSTOP] = b"\x02"
            a[4] = a[5] = termios.B57600
            termios.tcsetattr(fd, termios.TCSANOW, a)
            # PORT_INIT and XONXOFF leave together; wait for the last of them
            p = self.sim.wait_port("57600 with flow control and XON/XOFF characters",
                                   lambda p: p["baud"] == 57600 and p["xon"] == 1)
            self.assertEqual(p["flow"], {"cts": True, "rts": True, "ixon": True, "ixoff": True})
            self.assertEqual((p["xon"], p["xoff"]), (1, 2))
            # the pty backend cannot carry data bits or parity: the device keeps 8N1
            self.assertEqual((p["data_bits"], p["parity"]), (8, "none"))
            # exact bytes: PORT_INIT with index 09 (57600), flow bytes, then XONXOFF 01 02
            self.assertIn("2c080903010101010101", self.sim.commands())
            self.assertIn("18020102", self.sim.commands())
        finally:
            os.close(fd)

    def test_settings_in_a_burst_after_clearing_local_flags(self):
        """open_tty() clears every local flag, EXTPROC too; the settings that
        follow at once, each announced only while EXTPROC is on, still all
        reach the unit, the last one last."""
        fd = open_tty(self.d.tty(0), termios.B19200)
        try:
            self.d.wait_state("up")
            a = termios.tcgetattr(fd)
            for rate in (termios.B1200, termios.B2400, termios.B4800, termios.B38400):
                a[3] = 0
                a[4] = a[5] = rate
                termios.tcsetattr(fd, termios.TCSANOW, a)
            self.sim.wait_port("38400, the last rate set", lambda p: p["baud"] == 38400)
            self.assertEqual(termios.tcgetattr(fd)[4], termios.B38400)
        finally:
            os.close(fd)

    def test_custom_baud(self):
        import fcntl
        import struct
        fd = open_tty(self.d.tty(0))
        try:
            self.d.wait_state("up")
            # termios2 with BOTHER: 250000 baud (asm-generic TCGETS2/TCSETS2)
            TCGETS2, TCSETS2, BOTHER, CBAUD = 0x802C542A, 0x402C542B, 0o010000, 0o010017
            buf = bytearray(fcntl.ioctl(fd, TCGETS2, bytes(44)))
            iflag, oflag, cflag, lflag = struct.unpack_from("4I", buf)
            cflag = (cflag & ~CBAUD) | BOTHER
            struct.pack_into("4I", buf, 0, iflag, oflag, cflag, lflag)
            struct.pack_into("2I", buf, 36, 250000, 250000)
            fcntl.ioctl(fd, TCSETS2, bytes(buf))
            self.sim.wait_port("250000 baud", lambda p: p["baud"] == 250000)
            # index FF then SETBAUD 17 04 90 D0 03 00
            self.assertIn("170490d00300", self.sim.commands())
        finally:
            os.close(fd)

    def test_refused_rate_shows_in_termios(self):
        """The unit answers NA to SETBAUD 1000000 (above 921600): tcgetattr
        reads back the rate in effect, 115200, and status says what was
        refused (docs/uapi.md, settings that could not be applied)."""
        fd = open_tty(self.d.tty(0), termios.B115200)
        try:
            self.d.wait_state("up")
            self.sim.wait_port("115200", lambda p: p["baud"] == 115200)
            a = termios.tcgetattr(fd)
            a[4] = a[5] = termios.B1000000
            termios.tcsetattr(fd, termios.TCSANOW, a)
            wait_for(lambda: "refused 1000000" in self.d.port()["last_error"],
                     "the refusal in status")
            wait_for(lambda: termios.tcgetattr(fd)[4] == termios.B115200,
                     "tcgetattr to read back 115200")
            self.assertEqual(termios.tcgetattr(fd)[5], termios.B115200)
            self.assertEqual(self.d.port()["line"]["baud"], 115200)
            self.assertEqual(self.sim.port(1)["baud"], 115200)
            # a rate the unit takes goes through as before
            a[4] = a[5] = termios.B57600
            termios.tcsetattr(fd, termios.TCSANOW, a)
            self.sim.wait_port("57600", lambda p: p["baud"] == 57600)
            self.assertEqual(termios.tcgetattr(fd)[4], termios.B57600)
        finally:
            os.close(fd)

    def test_data_all_bytes_both_ways(self):
        fd = open_tty(self.d.tty(0))
        pty = self.sim.open_pty(1)
        try:
            self.d.wait_state("up")
            data = bytes(range(256)) * 64
            write_all(fd, data)
            self.assertEqual(read_n(pty, len(data)), data)
            write_all(pty, data[::-1])
            self.assertEqual(read_n(fd, len(data)), data[::-1])
            p = self.d.port(0)
            self.assertEqual((p["tx_bytes"], p["rx_bytes"]), (len(data), len(data)))
        finally:
            os.close(fd)
            os.close(pty)

    def test_two_ports_independent(self):
        a, b = open_tty(self.d.tty(0)), open_tty(self.d.tty(1), termios.B4800)
        pa, pb = self.sim.open_pty(1), self.sim.open_pty(2)
        try:
            self.d.wait_state("up", 0)
            self.d.wait_state("up", 1)
            self.sim.wait_port("port 2 at 4800", lambda p: p["baud"] == 4800, 2)
            write_all(a, b"to port one")
            write_all(b, b"to port two")
            self.assertEqual(read_n(pa, 11), b"to port one")
            self.assertEqual(read_n(pb, 11), b"to port two")
        finally:
            for fd in (a, b, pa, pb):
                os.close(fd)

    def test_realcomctl(self):
        fd = open_tty(self.d.tty(0))
        try:
            self.d.wait_state("up")
            r = self.d.realcomctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"ttyR0\s+up\s+\d+s\s+-\s+127\.0\.0\.1 port 1\s+realcom\s+off\s+yes")
            self.assertRegex(r.stdout, r"ttyR1\s+idle")
            r = self.d.realcomctl("status", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('"state":"up"', r.stdout.replace(" ", ""))
            r = self.d.realcomctl("line", "ttyR1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("baud", r.stdout)
            self.assertIn("modem lines: not available", r.stdout)   # a pty has none
            r = self.d.realcomctl("line", "ttyR9")
            self.assertEqual(r.returncode, 1)
            self.assertIn("not a port", r.stderr)
            r = self.d.realcomctl("frobnicate")
            self.assertEqual(r.returncode, 2)
        finally:
            os.close(fd)

    def test_reload(self):
        fd = open_tty(self.d.tty(0))
        try:
            self.d.wait_state("up")
            # drop ttyR1, add ttyR5, leave ttyR0 alone
            self.d.write_config({0: realcom_port(self.sim, 1), 5: realcom_port(self.sim, 2)})
            r = self.d.realcomctl("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("1 added, 0 changed, 1 removed, 1 unchanged", r.stdout)
            self.assertEqual(self.d.port(0)["state"], "up")
            self.assertEqual(self.d.port(0)["connects"], 1)     # not disturbed
            self.assertIsNone(self.d.port(1))
            self.assertTrue(os.path.exists(self.d.tty(5)))
            self.assertFalse(os.path.exists(self.d.tty(1)))
            # a broken file is refused and the running ports stay
            with open(self.d.path("realcom.conf"), "a") as f:
                f.write("[ttyR7]\nhots = x\n")
            r = self.d.realcomctl("reload")
            self.assertEqual(r.returncode, 1)
            self.assertIn("realcom.conf:", r.stderr)
            self.assertIn("unknown key 'hots'", r.stderr)
            self.assertEqual(self.d.port(0)["state"], "up")
        finally:
            os.close(fd)


class Resilience(unittest.TestCase):
    def test_keepalive_polls_answered(self):
        with Sim("--poll-idle", "0.2", "--poll-interval", "0.1", "--poll-max", "2") as sim, \
                Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                sim.wait_port("several polls", lambda p: p["polls_sent"] >= 5)
                p = sim.port()
                self.assertTrue(p["connected"])
                self.assertEqual(p["sessions"], 1)          # never dropped
                self.assertIn("2801", "".join(sim.commands()))   # ALIVE answers
            finally:
                os.close(fd)

    def test_reboot_reconnect_replays_settings(self):
        with Sim("--echo") as sim, Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0), termios.B4800)
            try:
                d.wait_state("up")
                a = termios.tcgetattr(fd)
                a[2] |= termios.CRTSCTS
                termios.tcsetattr(fd, termios.TCSANOW, a)
                sim.wait_port("4800 + rtscts", lambda p: p["baud"] == 4800 and p["flow"]["cts"])
                self.assertEqual(echo(fd, b"before"), b"before")
                sim.ok(cmd="reboot", ms=300)
                wait_for(lambda: d.port()["reconnects"] >= 1, "the reconnect")
                # PORT_INIT on the new connection carries 4800 and RTS/CTS again
                p = sim.wait_port("the settings again", lambda p: p["connected"] and
                                  p["commands"] > 0 and p["baud"] == 4800)
                self.assertTrue(p["flow"]["cts"])
                self.assertEqual(echo(fd, b"after"), b"after")  # nothing lost or doubled
                self.assertEqual(d.port()["state"], "up")
            finally:
                os.close(fd)

    def test_settings_made_while_the_device_sets_up(self):
        """The application changes the line while PORT_INIT is still out (a
        slow unit, or any connect): once the unit answers, the change
        follows; nothing set in that window is lost.  (The pty backend reads
        the tty's settings once the port is up; the kernel backend takes
        them at once, and tests/vm/e2e.c checks that case.)"""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            sim.ok(cmd="stall", port=1, ms=60000)     # reads no command until told
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("initialising")
                a = termios.tcgetattr(fd)
                a[4] = a[5] = termios.B19200
                a[2] |= termios.CRTSCTS      # a pty carries baud and flow, not parity
                termios.tcsetattr(fd, termios.TCSANOW, a)
                self.assertEqual(d.port()["state"], "initialising")
                sim.ok(cmd="stall", port=1, ms=1)        # the unit answers now
                d.wait_state("up")
                sim.wait_port("19200 with RTS/CTS on the device",
                              lambda p: p["baud"] == 19200 and p["flow"]["cts"])
            finally:
                os.close(fd)

    def storm(self, mode):
        """Ten thousand termios changes in a loop, while the unit answers
        late, neither end the session (Real COM: more replies due than
        realcomd keeps track of) nor make an answer to an old set-up look
        like a refusal (RFC 2217): changes made while many answers are due
        wait and go out as one, and the unit ends at the last rate."""
        with Sim(mode=mode) as sim:
            keys = realcom_port(sim) if mode == "realcom" else \
                {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": sim.tcp_base + 1}
            with Realcomd({0: keys}) as d:
                dev = sim.open_pty()
                fd = open_tty(d.tty(0))
                try:
                    d.wait_state("up")
                    sim.ok(cmd="stall", port=1, ms=1000)     # answers come late
                    termios_storm(fd)
                    sim.wait_port("19200 on the unit", lambda p: p["baud"] == 19200)
                    write_all(fd, b"after")
                    self.assertEqual(read_n(dev, 5), b"after")
                    p = d.port()
                    self.assertEqual((p["state"], p["reconnects"], p["last_error"]), ("up", 0, ""))
                    self.assertEqual(termios.tcgetattr(fd)[4], termios.B19200)
                    self.assertEqual(sim.port()["sessions"], 1)
                finally:
                    os.close(fd)
                    os.close(dev)

    def test_ten_thousand_termios_changes(self):
        self.storm("realcom")

    def test_ten_thousand_termios_changes_rfc2217(self):
        self.storm("rfc2217")

    def test_dead_peer_found_within_keepalive(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim, keepalive=1)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                sim.ok(cmd="stall", port=1, ms=5000)    # reads nothing, answers nothing
                wait_for(lambda: d.port()["reconnects"] >= 1 or d.port()["state"] != "up",
                         "realcomd to notice the silent device")
                self.assertIn("no answer", d.port()["last_error"] or d.log_text())
            finally:
                os.close(fd)

    def slow_rfc2217_line(self, reply):
        """A live RFC 2217 server whose line is slow has taken far more than
        its line sends in keepalive seconds: the keep-alive query waits
        behind it (its TCP acknowledged it all, nothing is queued here), and
        the session stays up.  It was given up after keepalive seconds; and
        when the device sent a byte back meanwhile, that byte was taken for
        the query's answer, and the next query allowed nothing for what the
        server still held."""
        with Sim("--line-rate", "on", mode="rfc2217") as sim, \
                Realcomd({0: {"host": "127.0.0.1", "protocol": "rfc2217",
                              "tcp_port": sim.tcp_base + 1, "keepalive": 1}}) as d:
            fd = open_tty(d.tty(0), termios.B1200)
            dev = sim.open_pty()
            try:
                sim.wait_port("1200 baud", lambda p: p["baud"] == 1200)
                # more than the unit's queue (64 KiB): the rest waits in its socket,
                # acknowledged, with the query behind it (half an hour of line)
                write_all(fd, bytes(192 << 10))
                wait_for(lambda: d.port()["tx_bytes"] == 192 << 10, "everything sent")
                for _ in range(8 if reply else 0):     # a reply now and then
                    write_all(dev, b"\x06")
                    self.assertEqual(read_n(fd, 1), b"\x06")
                    select.select([], [], [], 0.3)
                # four keepalive periods of line time, then still the first session
                start = sim.port()["to_serial"]
                wait_for(lambda: sim.port()["to_serial"] >= start + 480, "480 bytes on the line")
                p = d.port()
                self.assertEqual((p["state"], p["connects"]), ("up", 1), p)
                self.assertNotIn("no answer", d.log_text())
            finally:
                os.close(fd)
                os.close(dev)

    def test_slow_rfc2217_line_is_not_dead(self):
        self.slow_rfc2217_line(False)

    def test_slow_rfc2217_line_with_a_reply_is_not_dead(self):
        self.slow_rfc2217_line(True)

    def test_unit_offline_does_not_hang(self):
        with Sim() as sim:
            port = realcom_port(sim)
        # the simulator is gone: nothing listens there
        with Realcomd({0: port}) as d:
            fd = open_tty(d.tty(0))
            try:
                p = wait_for(lambda: (lambda p: p if p["last_error"] else None)(d.port()),
                             "the connect to fail")
                self.assertIn("refused", p["last_error"].lower())
                self.assertIn(p["state"], ("waiting to reconnect", "connecting"))
                # the daemon still answers at once
                self.assertEqual(d.realcomctl("status").returncode, 0)
            finally:
                os.close(fd)
            wait_for(lambda: d.port()["state"] == "idle", "idle after the close")

    def test_connect_always(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim, connect="always")}) as d:
            d.wait_state("up")
            sim.wait_port("the host", lambda p: p["connected"])


class Throughput(unittest.TestCase):
    def test_16_mib_echo_intact(self):
        """16 MiB of random bytes (0xFF and CR among them) there and back with
        the tty and the sockets full on the way, over Real COM, RFC 2217
        (decoded in place) and Real COM over TLS (read ahead)."""
        certs = Certs()
        certs.setup()
        try:
            for mode, args, port in (
                    ("realcom", (), realcom_port),
                    ("rfc2217", (), lambda s: {"host": "127.0.0.1", "protocol": "rfc2217",
                                               "tcp_port": s.tcp_base + 1}),
                    ("realcom", ("--tls", "on", "--cert", certs.path("server.pem"),
                                 "--key", certs.path("server.key")),
                     lambda s: realcom_port(s, tls="on", tls_ca=certs.path("ca.pem")))):
                with self.subTest(mode=mode, tls=bool(args)), \
                        Sim("--echo", *args, mode=mode) as sim, \
                        Realcomd({0: port(sim)}) as d:
                    fd = open_tty(d.tty(0))
                    try:
                        d.wait_state("up")
                        data = os.urandom(1 << 20) * 16
                        self.assertEqual(echo(fd, data, stall=20), data)
                        p = d.port()
                        self.assertEqual((p["tx_bytes"], p["rx_bytes"]), (len(data), len(data)))
                    finally:
                        os.close(fd)
        finally:
            certs.teardown()


class ModemAndStop(unittest.TestCase):
    def test_notify_reaches_status(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                wait_for(lambda: d.port()["modem"]["dcd"], "DCD from PORT_INIT's reply")
                sim.ok(cmd="modem", port=1, dcd=False, ri=True)
                m = wait_for(lambda: (lambda m: m if not m["dcd"] else None)(d.port()["modem"]),
                             "the NOTIFY to reach realcomd")
                self.assertTrue(m["ri"])
                self.assertTrue(m["cts"] and m["dsr"])
            finally:
                os.close(fd)

    def test_sigterm_drains_then_exits(self):
        with Sim("--line-rate", "on") as sim, Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0), termios.B1200)
            dev = sim.open_pty()
            try:
                sim.wait_port("1200 baud", lambda p: p["baud"] == 1200)
                write_all(fd, b"z" * 60)        # half a second on a 1200 baud line
                sim.wait_port("data on its way", lambda p: p["tx_queue"] > 0)
                d.proc.send_signal(signal.SIGTERM)
                self.assertEqual(d.proc.wait(DEADLINE), 0)
                log = sim.commands()
                self.assertTrue(any(h.startswith("2f04") for h in log), log)
                self.assertEqual(log[-1], "140102")     # flushed after the drain
                self.assertEqual(read_n(dev, 60), b"z" * 60)
            finally:
                os.close(fd)
                os.close(dev)


class PortSetup(unittest.TestCase):
    """A port whose tty cannot be made (here: a directory where its link goes)
    is named in the log, the status systemd shows and the reload's answer;
    the other ports work.  With no port at all realcomd exits 1."""

    @staticmethod
    def block(d, n):
        os.makedirs(d.path(f"dev/ttyR{n}/in-the-way"))

    def test_one_port_fails_the_others_work(self):
        with Sim(ports=3) as sim, \
                Realcomd({0: realcom_port(sim, 1), 1: realcom_port(sim, 2)},
                         prepare=lambda d: self.block(d, 1)) as d:
            msg = d.notified("READY=1")
            self.assertIn("STATUS=1 added", msg)
            self.assertIn("not set up (see the log): ttyR1", msg)
            self.assertIn(f"ttyR1: {d.path('dev/ttyR1')}: something other than a link is there; "
                          "not replaced", d.log_text())
            self.assertEqual([p["tty"] for p in d.ctl(cmd="status")["ports"]], ["ttyR0"])
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
            finally:
                os.close(fd)
            # out of the way: a reload sets it up and leaves ttyR0 alone
            os.rmdir(d.path("dev/ttyR1/in-the-way"))
            os.rmdir(d.path("dev/ttyR1"))
            r = d.realcomctl("reload")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("1 added, 0 changed, 0 removed, 1 unchanged", r.stdout)
            self.assertIn("1 unchanged", d.notified("STATUS=1 added"))
            self.assertTrue(os.path.islink(d.tty(1)))
            # a reload that cannot set up a new port says which, and fails
            d.write_config({0: realcom_port(sim, 1), 1: realcom_port(sim, 2),
                            2: realcom_port(sim, 3)})
            self.block(d, 2)
            r = d.realcomctl("reload")
            self.assertEqual(r.returncode, 1)
            self.assertIn("not set up (see the log): ttyR2", r.stderr)
            self.assertTrue(d.notified("not set up (see the log): ttyR2"))
            self.assertEqual(len(d.ctl(cmd="status")["ports"]), 2)

    def test_no_port_at_all_is_fatal(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, prepare=lambda d: self.block(d, 0),
                                    may_exit=True) as d:
            self.assertEqual(d.proc.wait(DEADLINE), 1)
            self.assertIn("no port could be set up", d.log_text())
            self.assertFalse(os.path.exists(d.path("control")), "the control socket is removed")


class Config(unittest.TestCase):
    def run_check(self, text):
        with open("/dev/null") as null:
            d = tempfile.mkdtemp()
            path = os.path.join(d, "realcom.conf")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([os.environ.get("REALCOMD", "realcomd"), "-t", "-c", path],
                               capture_output=True, text=True, stdin=null, timeout=DEADLINE)
            shutil.rmtree(d)
            return r

    def test_check_good_and_bad(self):
        r = self.run_check("[ttyR0]\nhost = 192.0.2.10\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok, 1 port", r.stdout)
        r = self.run_check("[ttyR0]\nhost = 192.0.2.10\ntls = on\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("realcom.conf:1: [ttyR0]: tls = on needs tls_ca or tls_fingerprint",
                      r.stderr)
        r = self.run_check("[ttyR0]\nhost = a\nprotocol = rfc2217\ntls = data-only\n"
                           "tls_verify = off\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("data-only is for protocol = realcom", r.stderr)
        r = self.run_check("[ttyR0]\nhost = a\nport = 40\n")
        self.assertIn("realcom.conf:3: [ttyR0]: port = '40': expected a whole number from 1 to 32",
                      r.stderr)
        r = self.run_check("[ttyR0]\nhost = a\n[ttyR0]\nhost = b\n")
        self.assertIn("realcom.conf:3: [ttyR0]: appears twice", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
