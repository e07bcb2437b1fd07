#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd sessions (issue 15): bytes written while the unit is unreachable
never reach it in a later session; a unit that drops every session at once
is retried with a growing back-off; a backup path (backup_host) takes over
when the first is unreachable or dies, against nportsim and ser2net; a slow
DNS answer for one port does not stall the others; a setting the device
refuses shows in last_error."""
import contextlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import itlib  # noqa: E402
from itlib import (DEADLINE, Certs, PtyPair, Realcomd, Sim, echo, free_port,  # noqa: E402
                   open_tty, read_n, realcom_port, ser2net, wait_for, write_all)


def port_keys(sim, mode, **extra):
    """The keys of a tty on sim's port 1 over mode (realcom or rfc2217)."""
    if mode == "realcom":
        return realcom_port(sim, **extra)
    return {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": sim.tcp_base + 1, **extra}


def read_through(fd, tail):
    """What the non-blocking fd gives until it ends with tail, or for at
    most DEADLINE seconds."""
    got = b""
    deadline = time.monotonic() + DEADLINE
    while not got.endswith(tail) and time.monotonic() < deadline:
        select.select([fd], [], [], 0.5)
        try:
            got += os.read(fd, 4096)
        except BlockingIOError:
            pass
    return got


@contextlib.contextmanager
def stalled_unit(mode, keepalive, ms):
    """A tty on sim's port 1 with connect = always, up, and then the unit
    stalled for ms: yields the simulator, realcomd and the unit's line."""
    with Sim(mode=mode) as sim, \
            Realcomd({0: port_keys(sim, mode, keepalive=keepalive, connect="always")}) as d:
        dev = sim.open_pty()
        try:
            d.wait_state("up")
            sim.ok(cmd="stall", port=1, ms=ms)
            yield sim, d, dev
        finally:
            os.close(dev)


def rebooted(sim):
    return not sim.ctl(cmd="status")["rebooting"]


class StaleBytes(unittest.TestCase):
    """What an application wrote while the unit was unreachable is dropped
    at its last close (counted in stale_dropped), never sent later."""

    def fresh_open(self, d, dev, from_unit=False):
        """A new open, once up, writes "fresh": the unit's line gets it (or,
        from_unit, the unit sends it: the open reads it, and nothing before)."""
        fd = open_tty(d.tty(0))
        try:
            d.wait_state("up")
            src, dst = (dev, fd) if from_unit else (fd, dev)
            write_all(src, b"fresh")
            self.assertEqual(read_n(dst, 5), b"fresh")
        finally:
            os.close(fd)

    def check(self, connect):
        with Sim() as sim, Realcomd({0: realcom_port(sim, connect=connect)}) as d:
            dev = sim.open_pty()
            try:
                if connect == "always":
                    d.wait_state("up")
                # unreachable for a while (listeners closed), then back with defaults
                sim.ok(cmd="reboot", ms=3000)
                fd = open_tty(d.tty(0))
                write_all(fd, b"STALE COMMAND")
                wait_for(lambda: d.port()["state"] != "up" and d.port()["last_error"],
                         "realcomd to find the unit unreachable")
                os.close(fd)       # dropped here (realcomd sees the close before any reopen)
                wait_for(lambda: rebooted(sim), "the unit to come back")
                # a new open, a new session: only what it writes reaches the line
                self.fresh_open(d, dev)
                self.assertEqual(sim.port()["to_serial"], 5)
                self.assertEqual(d.port()["stale_dropped"], len(b"STALE COMMAND"))
                self.assertIn("dropped 13 bytes the application wrote", d.log_text())
            finally:
                os.close(dev)

    def test_close_while_unreachable_on_open(self):
        self.check("on-open")

    def test_close_while_unreachable_connect_always(self):
        self.check("always")

    def stalled(self, mode):
        """A unit that stops reading but keeps the connection: realcomd gives
        the session up (keepalive) and resets it, so what the unit's TCP had
        taken and not yet read never reaches its line afterwards (a plain
        close let it read that and send it on once it woke)."""
        with stalled_unit(mode, keepalive=1, ms=4000) as (sim, d, dev):
            fd = open_tty(d.tty(0))
            write_all(fd, b"OLD!" * 256)
            wait_for(lambda: d.port()["state"] != "up" and d.port()["last_error"],
                     "realcomd to give the stalled session up")
            os.close(fd)
            wait_for(lambda: not sim.port()["stalled"], "the stall to end")
            self.fresh_open(d, dev)
            self.assertEqual(sim.port()["to_serial"], 5)

    def test_stalled_unit_gets_nothing_of_the_given_up_session(self):
        self.stalled("realcom")

    def test_stalled_rfc2217_server_gets_nothing_of_the_given_up_session(self):
        self.stalled("rfc2217")

    def held_by_unit(self, mode, purge):
        """The unit's own transmit buffer outlives a session that dies (it
        drains onto its line, nportsim as a real unit): the next session
        purges it before any of its own data, so at 1200 baud the rest of
        the old session's 2 KiB never follows.  A first open purges nothing."""
        with Sim("--line-rate", "on", mode=mode) as sim:
            keys = port_keys(sim, mode)
            with Realcomd({0: keys}) as d:
                dev = sim.open_pty()
                fd = open_tty(d.tty(0), baud=termios.B1200)
                try:
                    d.wait_state("up")
                    sim.wait_port("1200 baud", lambda p: p["baud"] == 1200)
                    self.assertNotIn(purge, sim.commands())
                    write_all(fd, b"O" * 2048)     # 17 s of line at 1200 baud
                    sim.wait_port("the unit to hold it all",
                                  lambda p: p["tx_queue"] + p["to_serial"] == 2048)
                    sim.ok(cmd="drop", port=1)
                    wait_for(lambda: d.port()["reconnects"] == 1 and d.port()["state"] == "up",
                             "the next session")
                    write_all(fd, b"fresh")
                    got = read_through(dev, b"fresh")
                    self.assertTrue(got.endswith(b"fresh"), got[-16:])
                    old = got[:-5]
                    self.assertEqual(old, b"O" * len(old))
                    self.assertLess(len(old), 1024, "the old session's data went on")
                    self.assertIn(purge, sim.commands())
                    self.assertIn("purged what the unit may still hold", d.log_text())
                    self.assertEqual(sim.port()["tx_queue"], 0)
                finally:
                    os.close(fd)
                    os.close(dev)

    def test_unit_buffer_purged_by_the_next_session(self):
        self.held_by_unit("realcom", "140101")

    def test_rfc2217_server_buffer_purged_by_the_next_session(self):
        self.held_by_unit("rfc2217", "2c0c02")

    def closed_while_stalled(self, mode, drained):
        """connect = always: the last close drains (at most 3 s) as on-open's
        does.  A unit that takes it all in time keeps the session, and the
        next open's data flows at once; one that does not has the session
        reset and made again, so that nothing of the first open, what
        realcomd took or what the pty held, reaches its line afterwards."""
        with stalled_unit(mode, keepalive=60, ms=60000) as (sim, d, dev):
            fd = open_tty(d.tty(0))
            if drained:
                write_all(fd, b"O" * 65536)
            else:       # fill what realcomd and the pty hold (bounded)
                end = time.monotonic() + 3
                while time.monotonic() < end:
                    _, w, _ = select.select([], [fd], [], 0.5)
                    if not w:
                        break
                    os.write(fd, b"O" * 4096)
            wait_for(lambda: d.port()["tx_bytes"] > 0, "realcomd to take data")
            os.close(fd)
            wait_for(lambda: d.port()["state"] == "closing", "the close's drain")
            if not drained:     # the next session waits for the stalled unit
                wait_for(lambda: d.port()["state"] not in ("closing", "up"),
                         "the drain to run out")
            sim.ok(cmd="stall", port=1, ms=0)
            taken = d.port()["tx_bytes"] if drained else 0
            if drained:     # the unit's line gets all the open wrote
                self.assertEqual(read_n(dev, taken), b"O" * taken)
            wait_for(lambda: d.port()["state"] == "up", "the session, up again")
            self.fresh_open(d, dev)
            self.assertEqual(sim.port()["to_serial"], taken + 5)
            p = d.port()
            if drained:
                self.assertEqual((p["stale_dropped"], p["reconnects"]), (0, 0))
            else:
                self.assertGreater(p["stale_dropped"], 0)
                self.assertEqual(p["reconnects"], 1)

    def test_rfc2217_dropped_counts_application_bytes(self):
        """Over RFC 2217 each 0xFF goes out as FF FF: what a stalled server did
        not take is counted as the application's bytes, not the wire's
        (once, twice as many as it wrote were counted)."""
        with stalled_unit("rfc2217", keepalive=60, ms=60000) as (sim, d, dev):
            fd = open_tty(d.tty(0))
            written = 0
            end = time.monotonic() + 3
            while time.monotonic() < end:
                _, w, _ = select.select([], [fd], [], 0.5)
                if not w:
                    break
                written += os.write(fd, b"\xff" * 4096)
            wait_for(lambda: d.port()["tx_bytes"] > 0, "realcomd to take data")
            os.close(fd)
            wait_for(lambda: d.port()["stale_dropped"] > 0, "the drain to run out")
            p = d.port()
            self.assertGreater(p["stale_dropped"], 0)
            self.assertLessEqual(p["stale_dropped"], p["tx_bytes"])
            self.assertLessEqual(p["tx_bytes"], written)

    def test_always_close_drained_keeps_the_session(self):
        self.closed_while_stalled("realcom", True)

    def test_always_close_drained_keeps_the_session_rfc2217(self):
        self.closed_while_stalled("rfc2217", True)

    def test_always_close_not_drained_renews_the_session(self):
        self.closed_while_stalled("realcom", False)

    def test_always_close_not_drained_renews_the_session_rfc2217(self):
        self.closed_while_stalled("rfc2217", False)

    def unread_input(self, connect):
        """What the unit sent that the application did not read goes with its
        last close, as a UART's input does: the next open reads only what
        comes for it (realcomd keeps the pty's slave open, so the pty would
        keep it)."""
        with Sim() as sim, Realcomd({0: realcom_port(sim, connect=connect)}) as d:
            dev = sim.open_pty()
            try:
                fd = open_tty(d.tty(0))
                d.wait_state("up")
                os.write(dev, b"for the first open")
                wait_for(lambda: d.port()["rx_bytes"] == 18, "the bytes in the tty")
                os.close(fd)
                d.wait_state("up" if connect == "always" else "idle")
                fd = open_tty(d.tty(0))
                try:
                    d.wait_state("up")
                    os.write(dev, b"second")
                    self.assertEqual(read_n(fd, 6), b"second")
                finally:
                    os.close(fd)
            finally:
                os.close(dev)

    def full_tty_closed(self, mode, connect):
        """The application reads nothing while the unit sends 300 kB (the
        pty fills and realcomd waits for room), then closes: what comes
        after is dropped until the next open, which reads only what comes
        for it.  The wait for room outlived the close: with connect = always
        the rest came to the next open, and over RFC 2217 the next session
        could not even be set up (its answers waited for that room)."""
        blob = b"F" * 300000
        with Sim(mode=mode) as sim, Realcomd({0: port_keys(sim, mode, connect=connect)}) as d:
            dev = sim.open_pty()
            try:
                fd = open_tty(d.tty(0))
                d.wait_state("up")
                write_all(dev, blob[:65536])     # more than a pty holds
                seen = [-1]

                def full():     # realcomd took some, and takes no more
                    rx = d.port()["rx_bytes"]
                    was, seen[0] = seen[0], rx
                    return rx >= 4096 and rx == was
                wait_for(full, "the tty to fill", interval=0.1)
                os.close(fd)
                d.wait_state("up" if connect == "always" else "idle")
                if connect == "always":     # the rest, dropped as it comes
                    write_all(dev, blob[65536:])
                    wait_for(lambda: d.port()["rx_bytes"] == len(blob), "the rest dropped")
                    self.assertEqual(sim.port()["sessions"], 1)
                self.fresh_open(d, dev, from_unit=True)
            finally:
                os.close(dev)

    def test_full_tty_closed(self):
        self.full_tty_closed("realcom", "always")

    def test_full_tty_closed_rfc2217(self):
        self.full_tty_closed("rfc2217", "always")

    def test_full_tty_closed_rfc2217_on_open(self):
        self.full_tty_closed("rfc2217", "on-open")

    def test_unread_input_goes_with_the_close(self):
        self.unread_input("on-open")

    def test_unread_input_goes_with_the_close_connect_always(self):
        self.unread_input("always")

    def test_data_after_tcflush_waits_for_the_units_flush(self):
        """Real COM: the unit's FLUSH drops what it has not read from TCP, so
        what the application writes after tcflush() goes once the FLUSH is
        answered; sent at once, it was dropped with the flushed data."""
        with Sim("--line-rate", "on") as sim, Realcomd({0: realcom_port(sim)}) as d:
            dev = sim.open_pty()
            fd = open_tty(d.tty(0), baud=termios.B9600)
            try:
                d.wait_state("up")
                sim.wait_port("9600 baud", lambda p: p["baud"] == 9600)
                # more than the unit queues (64 KiB), less than its TCP then holds
                write_all(fd, b"J" * 100000)
                sim.wait_port("the unit's queue full", lambda p: p["data_paused"])
                termios.tcflush(fd, termios.TCIOFLUSH)
                write_all(fd, b"AFTER")
                got = read_through(dev, b"AFTER")
                self.assertTrue(got.endswith(b"AFTER"), got[-16:])
                self.assertLess(len(got), 100000)
                self.assertIn("140102", sim.commands())
            finally:
                os.close(fd)
                os.close(dev)

    def shell_echo(self, mode):
        """`echo hello > ttyR0` closes before any unit could answer the
        connect: the attempt goes on, and the line gets it (it was dropped
        as if the unit were unreachable)."""
        with Sim(mode=mode) as sim, Realcomd({0: port_keys(sim, mode)}) as d:
            dev = sim.open_pty()
            try:
                r = subprocess.run(["sh", "-c", f"echo hello > {d.tty(0)}"], timeout=DEADLINE)
                self.assertEqual(r.returncode, 0)
                self.assertEqual(read_n(dev, 7), b"hello\r\n")     # a tty's ONLCR
                d.wait_state("idle")
                self.assertEqual(d.port()["stale_dropped"], 0)
            finally:
                os.close(dev)

    def test_shell_echo(self):
        self.shell_echo("realcom")

    def test_shell_echo_rfc2217(self):
        self.shell_echo("rfc2217")

    def reopen_at_once(self, mode):
        """close() and at once open() and write(): realcomd hears of both
        late, when the pty may hold the new open's bytes already; none of
        them is dropped, and everything arrives in order."""
        with Sim(mode=mode) as sim, Realcomd({0: port_keys(sim, mode)}) as d:
            dev = sim.open_pty()
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                for i in range(10):
                    write_all(fd, b"A%d." % i)
                    os.close(fd)
                    fd = open_tty(d.tty(0))
                    write_all(fd, b"B%d." % i)
                want = b"".join(b"A%d.B%d." % (i, i) for i in range(10))
                self.assertEqual(read_n(dev, len(want)), want)
                self.assertEqual(d.port()["stale_dropped"], 0)
            finally:
                os.close(fd)
                os.close(dev)

    def test_reopen_at_once(self):
        self.reopen_at_once("realcom")

    def test_reopen_at_once_rfc2217(self):
        self.reopen_at_once("rfc2217")

    def closed_during_failing_attempt(self, mode):
        """connect = always: a close during an attempt that then fails drops
        what the open wrote; the next session, the unit's return, is not the
        one it was written for."""
        # answers nothing: the attempts fail
        with stalled_unit(mode, keepalive=3, ms=60000) as (sim, d, dev):
            wait_for(lambda: d.port()["state"] in ("connecting", "initialising"),
                     "an attempt under way")
            fd = open_tty(d.tty(0))
            write_all(fd, b"STALE")
            os.close(fd)
            wait_for(lambda: d.port()["stale_dropped"] == 5, "the attempt to fail")
            sim.ok(cmd="stall", port=1, ms=0)
            wait_for(lambda: d.port()["state"] == "up", "the unit back")
            self.fresh_open(d, dev)
            self.assertEqual(sim.port()["to_serial"], 5)

    def test_always_close_during_failing_attempt(self):
        self.closed_during_failing_attempt("realcom")

    def test_always_close_during_failing_attempt_rfc2217(self):
        self.closed_during_failing_attempt("rfc2217")

    def test_write_after_tcflush_then_close(self):
        """Real COM: write, tcflush(), write a command and close at once.  The
        command waits for the FLUSH's answer, which comes during the close's
        drain: the drain takes it then (it was dropped as not sent)."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            dev = sim.open_pty()
            try:
                for i in range(5):
                    fd = open_tty(d.tty(0))
                    d.wait_state("up")
                    os.write(fd, b"j" * 10)
                    termios.tcflush(fd, termios.TCOFLUSH)
                    os.write(fd, b"<CMD%d>" % i)
                    os.close(fd)
                    got = read_through(dev, b"<CMD%d>" % i)
                    self.assertTrue(got.endswith(b"<CMD%d>" % i), got)
                    d.wait_state("idle")
                self.assertEqual(d.port()["stale_dropped"], 0)
            finally:
                os.close(dev)

    def test_always_open_close_loop(self):
        """Real COM, connect = always: 200 opens, writes and closes in a row
        cost the unit one WAIT_OQUEUE at a time, not one per close (32 due
        ended the session as a unit that stopped answering)."""
        with Sim() as sim, Realcomd({0: realcom_port(sim, connect="always")}) as d:
            dev = sim.open_pty()
            try:
                d.wait_state("up")
                want = b""
                for i in range(200):
                    fd = open_tty(d.tty(0))
                    write_all(fd, b"<%03d>" % i)
                    os.close(fd)
                    want += b"<%03d>" % i
                self.assertEqual(read_n(dev, len(want)), want)
                p = d.port()
                self.assertEqual((p["stale_dropped"], p["connects"], p["last_error"]), (0, 1, ""))
            finally:
                os.close(dev)

    def test_reopen_while_up_keeps_nothing_of_the_last_open(self):
        """A close while up sends what the application wrote (the normal
        case): nothing is dropped."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            dev = sim.open_pty()
            try:
                fd = open_tty(d.tty(0))
                d.wait_state("up")
                write_all(fd, b"kept")
                os.close(fd)
                self.assertEqual(read_n(dev, 4), b"kept")
                d.wait_state("idle")
                self.assertEqual(d.port()["stale_dropped"], 0)
            finally:
                os.close(dev)


class SharedOpens(unittest.TestCase):
    """Two opens of one tty (a program that opens it for reading and for
    writing, or two programs): the port is the application's until the last
    of them closes."""

    def two_opens(self, mode):
        with Sim(mode=mode) as sim, Realcomd({0: port_keys(sim, mode)}) as d:
            dev = sim.open_pty()
            try:
                for i in range(8):
                    # back to back: inotify reports the two opens as one
                    a = open_tty(d.tty(0))
                    b = open_tty(d.tty(0))
                    d.wait_state("up")
                    connects = d.port()["connects"]
                    os.close(a)
                    write_all(dev, b"<to b %d>" % i)
                    self.assertEqual(read_n(b, 8), b"<to b %d>" % i)
                    write_all(b, b"<from b %d>" % i)
                    self.assertEqual(read_n(dev, 10), b"<from b %d>" % i)
                    p = d.port()
                    self.assertEqual((p["state"], p["connects"]), ("up", connects))
                    os.close(b)
                    d.wait_state("idle")
                self.assertEqual(d.port()["stale_dropped"], 0)
            finally:
                os.close(dev)

    def test_two_opens_one_close(self):
        self.two_opens("realcom")

    def test_two_closes_at_once(self):
        """Both closed back to back (inotify reports the closes as one):
        the port is closed, and the session with it."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            for i in range(8):
                a = open_tty(d.tty(0))
                b = open_tty(d.tty(0))
                d.wait_state("up")
                write_all(a, b"<%d>" % i)
                os.close(a)
                os.close(b)
                d.wait_state("idle")
            self.assertEqual(sim.port()["to_serial"], 8 * 3)

    def test_two_opens_one_close_rfc2217(self):
        self.two_opens("rfc2217")


class Backoff(unittest.TestCase):
    def test_unit_dropping_every_session_is_backed_off(self):
        """nportsim answers PORT_INIT and drops the session, every time: the
        back-off grows (100, 200, 400 ... ms) instead of resetting on each
        short-lived "up"; status shows the step and the next try."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            sim.ok(cmd="drop-after-init", port=1, on=True)
            fd = open_tty(d.tty(0))
            try:
                wait_for(lambda: sim.port()["sessions"] >= 5, "five sessions", timeout=20)
                p = d.port()
                # four dropped sessions at least: 100 -> 800 ms (without the rule: 100)
                self.assertGreaterEqual(p["backoff_ms"], 800, p)
                self.assertIn("fault: dropped after PORT_INIT", sim.port()["last_error"])
                p = d.wait_state("waiting to reconnect", timeout=20)
                self.assertGreater(p["next_try_ms"], 0)
                self.assertLessEqual(p["next_try_ms"], p["backoff_ms"])
                # the table's NEXT column, aligned like the others
                r = wait_for(lambda: (lambda r: r if "waiting to reconnect" in r.stdout else None)(
                    d.realcomctl("status")), "realcomctl to show the wait", timeout=20)
                self.assertRegex(r.stdout, r"TTY\s+STATE\s+SINCE\s+NEXT\s+PEER")
                self.assertRegex(r.stdout, r"ttyR0\s+waiting to reconnect\s+\d+s\s+\d+\.\ds\s+")
                lines = r.stdout.splitlines()
                self.assertEqual(lines[0].index("PEER"), lines[1].index("127.0.0.1"))
                # a session that lasts resets it
                sim.ok(cmd="drop-after-init", port=1, on=False)
                d.wait_state("up", timeout=40)
                self.assertGreaterEqual(d.port()["backoff_ms"], 800)   # not reset by "up"
                wait_for(lambda: d.port()["state_ms"] >= 5000, "a session of 5 s", timeout=20)
                before = d.port()["reconnects"]
                sim.ok(cmd="drop", port=1)
                wait_for(lambda: d.port()["reconnects"] > before and d.port()["state"] == "up",
                         "the reconnect")
                self.assertEqual(d.port()["backoff_ms"], 100)
            finally:
                os.close(fd)

    def test_backoff_is_capped_at_30_s(self):
        """Nothing listens: attempts fail at once, the step doubles from
        100 ms and stops at 30 s (about 30 s of failures to get there)."""
        with Sim() as gone:
            port = realcom_port(gone)
        with Realcomd({0: port}) as d:
            fd = open_tty(d.tty(0))
            try:
                steps = set()

                def capped():
                    p = d.port()
                    steps.add(p["backoff_ms"])
                    self.assertLessEqual(p["next_try_ms"], 30000)
                    return p["backoff_ms"] == 30000
                wait_for(capped, "the back-off to reach 30 s", timeout=60, interval=0.05)
                self.assertLessEqual(max(steps), 30000)
                self.assertIn(12800, steps)          # it doubled on the way
            finally:
                os.close(fd)


def backup_port(primary, backup, n=1, **extra):
    """A [ttyR] section for nportsim primary's port n with nportsim backup as
    the backup path (same host, its own TCP ports)."""
    return realcom_port(primary, n, backup_host="127.0.0.1",
                        backup_data_port=backup.data_port(n),
                        backup_command_port=backup.command_port(n), **extra)


class RedundantNportsim(unittest.TestCase):
    def test_primary_unreachable_at_connect(self):
        # ports bound here but not listening: a connect to them is refused,
        # and no other process can take them meanwhile
        held = []
        for _ in range(2):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            self.addCleanup(s.close)
        dead = {"data_port": held[0].getsockname()[1],
                "command_port": held[1].getsockname()[1]}
        with Sim("--echo") as backup, \
                Realcomd({0: backup_port(backup, backup, **dead)}) as d:
            fd = open_tty(d.tty(0), termios.B4800)
            try:
                p = d.wait_state("up")
                self.assertEqual(p["via"], "backup")
                self.assertTrue(p["peer"].endswith(f":{backup.data_port()}"), p)
                self.assertIn("trying the backup path", d.log_text())
                backup.wait_port("4800 on the backup", lambda p: p["baud"] == 4800)
                self.assertEqual(echo(fd, b"over the backup"), b"over the backup")
                r = d.realcomctl("status")
                self.assertIn("on the backup path (backup_host 127.0.0.1)", r.stdout)
            finally:
                os.close(fd)

    def test_session_dies_switches_and_replays_settings(self):
        with Sim("--echo") as primary, Sim("--echo") as backup, \
                Realcomd({0: backup_port(primary, backup, keepalive=1)}) as d:
            fd = open_tty(d.tty(0), termios.B4800)
            try:
                a = termios.tcgetattr(fd)
                a[2] |= termios.CRTSCTS
                termios.tcsetattr(fd, termios.TCSANOW, a)
                primary.wait_port("4800 + rtscts", lambda p: p["baud"] == 4800 and
                                  p["flow"]["cts"])
                self.assertEqual(d.port()["via"], "primary")
                self.assertEqual(echo(fd, b"one"), b"one")
                t0 = time.monotonic()
                primary.ok(cmd="stall", port=1, ms=60000)   # silent: keep-alive finds it
                p = wait_for(lambda: (lambda p: p if p["via"] == "backup" and
                                      p["state"] == "up" else None)(d.port()),
                             "the switch to the backup")
                print(f"switched to the backup {time.monotonic() - t0:.2f} s after the "
                      f"primary went silent (keepalive = 1 s)")
                b = backup.wait_port("the settings replayed on the backup",
                                     lambda p: p["connected"] and p["baud"] == 4800)
                self.assertTrue(b["flow"]["cts"])
                self.assertEqual(echo(fd, b"two"), b"two")
                self.assertIn("no answer", p["last_error"] + d.log_text())
            finally:
                os.close(fd)

    def test_backup_without_host_is_refused(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "realcom.conf")
        with open(path, "w") as f:
            f.write("[ttyR0]\nhost = 192.0.2.10\nbackup_data_port = 950\n")
        r = subprocess.run([itlib.REALCOMD, "-t", "-c", path], capture_output=True, text=True,
                           timeout=DEADLINE)
        os.unlink(path)
        os.rmdir(d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("need backup_host", r.stderr)


class RedundantSer2net(unittest.TestCase):
    """Two ser2net instances (RFC 2217), each on its own pty pair: the
    primary ends, realcomd goes on over the backup with the line replayed."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="session-")
        self.procs = []
        self.pairs = []
        for sub in ("primary", "backup"):
            os.mkdir(os.path.join(self.dir, sub))
            self.pairs.append(PtyPair(os.path.join(self.dir, sub)))
        self.ports = [free_port(), free_port()]

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait()
        for pair in self.pairs:
            pair.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def ser2net(self, i, stack="telnet(rfc2217),tcp"):
        proc = ser2net(self.pairs[i].a, self.ports[i], stack)
        self.procs.append(proc)
        return proc

    def speed(self, i):
        fd = os.open(self.pairs[i].a, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            return termios.tcgetattr(fd)[4]
        finally:
            os.close(fd)

    def run_switch(self, stack, extra):
        primary = self.ser2net(0, stack)
        self.ser2net(1, stack)
        keys = {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": self.ports[0],
                "backup_host": "127.0.0.1", "backup_tcp_port": self.ports[1]}
        keys.update(extra)
        with Realcomd({0: keys}) as d:
            devs = [os.open(p.b, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK) for p in self.pairs]
            fd = open_tty(d.tty(0), termios.B19200)
            try:
                d.wait_state("up")
                wait_for(lambda: self.speed(0) == termios.B19200, "19200 on the primary")
                write_all(fd, b"to primary")
                self.assertEqual(read_n(devs[0], 10), b"to primary")
                primary.send_signal(signal.SIGTERM)
                primary.wait()
                p = wait_for(lambda: (lambda p: p if p["via"] == "backup" and
                                      p["state"] == "up" else None)(d.port()),
                             "the switch to the backup ser2net")
                self.assertTrue(p["peer"].endswith(f":{self.ports[1]}"), p)
                wait_for(lambda: self.speed(1) == termios.B19200, "19200 replayed on the backup")
                write_all(fd, b"to backup")
                self.assertEqual(read_n(devs[1], 9), b"to backup")
                # ser2net took the PURGE-DATA ahead of it in the stream
                self.assertIn("purged what the unit may still hold", d.log_text())
                write_all(devs[1], b"from backup")
                self.assertEqual(read_n(fd, 11), b"from backup")
                return p
            finally:
                os.close(fd)
                for dev in devs:
                    os.close(dev)

    def test_hung_primary_under_a_trickle(self):
        """The primary ser2net hangs (SIGSTOP: its kernel still acknowledges)
        while the application writes a little now and then: the keep-alive
        finds it (once, each write's unacknowledged bytes restarted the wait,
        and the port stayed on a dead server)."""
        primary = self.ser2net(0)
        self.ser2net(1)
        keys = {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": self.ports[0],
                "backup_host": "127.0.0.1", "backup_tcp_port": self.ports[1], "keepalive": 2}
        with Realcomd({0: keys}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                primary.send_signal(signal.SIGSTOP)
                switched = False
                for _ in range(200):        # 10 bytes every 50 ms, 10 s at most
                    write_all(fd, b"0123456789")
                    if d.port()["via"] == "backup":
                        switched = True
                        break
                    select.select([], [], [], 0.05)
                self.assertTrue(switched, d.port())
                self.assertIn("no answer from the server", d.log_text())
            finally:
                primary.send_signal(signal.SIGCONT)
                os.close(fd)

    def test_plain(self):
        self.run_switch("telnet(rfc2217),tcp", {})

    def test_tls_verified_the_same_way(self):
        certs = Certs()
        certs.setup()
        self.addCleanup(certs.teardown)
        p = self.run_switch(f"telnet(rfc2217),ssl(key={certs.path('server.key')},"
                            f"cert={certs.path('server.pem')}),tcp",
                            {"tls": "on", "tls_ca": certs.path("ca.pem")})
        self.assertIn("verified by CA", p["tls_info"])

    def test_tls_backup_with_a_wrong_certificate_is_refused(self):
        """The backup is verified like the primary: its certificate names
        another host, so realcomd does not use it."""
        certs = Certs()
        certs.setup()
        self.addCleanup(certs.teardown)
        primary = self.ser2net(0, f"telnet(rfc2217),ssl(key={certs.path('server.key')},"
                               f"cert={certs.path('server.pem')}),tcp")
        self.ser2net(1, f"telnet(rfc2217),ssl(key={certs.path('wronghost.key')},"
                     f"cert={certs.path('wronghost.pem')}),tcp")
        keys = {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": self.ports[0],
                "backup_host": "127.0.0.1", "backup_tcp_port": self.ports[1], "tls": "on",
                "tls_ca": certs.path("ca.pem")}
        with Realcomd({0: keys}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                primary.send_signal(signal.SIGTERM)
                primary.wait()
                wait_for(lambda: f"127.0.0.1:{self.ports[1]}: connection: certificate "
                         "verification failed" in d.log_text(),
                         "the backup's certificate to be refused")
                p = d.port()
                self.assertEqual(p["connects"], 1, p)      # never up over the backup
                self.assertNotEqual(p["state"], "up")
            finally:
                os.close(fd)


class FakeDns:
    """A DNS server on 127.x.y.z:53 (UDP) that answers NAME with 127.0.0.1
    only once released, and NXDOMAIN for anything else."""

    def __init__(self, name):
        self.name = name.lower()
        self.addr = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250}.53"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.addr, 53))
        self.sock.settimeout(0.2)
        self.asked = threading.Event()
        self.release = threading.Event()
        self.stop = threading.Event()
        self.held = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def question(q):
        labels, i = [], 12
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
            i += 1 + q[i]
        qtype = struct.unpack_from("!H", q, i + 1)[0]
        return ".".join(labels), qtype, q[12:i + 5]

    def answer(self, q, peer):
        name, qtype, question = self.question(q)
        if name != self.name:
            self.sock.sendto(q[:2] + b"\x81\x83" + b"\x00\x01\x00\x00\x00\x00\x00\x00" +
                             question, peer)
            return
        rr = b""
        if qtype == 1:
            rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([127, 0, 0, 1])
        self.sock.sendto(q[:2] + b"\x81\x80\x00\x01" + struct.pack("!H", 1 if rr else 0) +
                         b"\x00\x00\x00\x00" + question + rr, peer)

    def serve(self):
        deadline = time.monotonic() + 120        # bounded even if nobody stops it
        while not self.stop.is_set() and time.monotonic() < deadline:
            if self.release.is_set():
                for q, peer in self.held:
                    self.answer(q, peer)
                self.held = []
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            if self.question(q)[0] == self.name and not self.release.is_set():
                self.held.append((q, peer))      # answered once released
                self.asked.set()
            else:
                self.answer(q, peer)

    def close(self):
        self.stop.set()
        self.thread.join(DEADLINE)
        self.sock.close()


class AsyncDns(unittest.TestCase):
    """realcomd runs in a mount namespace whose /etc/resolv.conf names the fake
    server (nothing outside changes); ttyR0's host waits for DNS while ttyR1,
    by address, moves data and the control socket answers."""

    def test_slow_name_does_not_stall_other_ports(self):
        if os.geteuid() != 0:
            self.fail("needs root for a private mount namespace and port 53")
        name = "slow-unit.realcom.test"
        dns = FakeDns(name)
        self.addCleanup(dns.close)
        tmp = tempfile.mkdtemp(prefix="session-dns-")
        resolv = os.path.join(tmp, "resolv.conf")
        with open(resolv, "w") as f:
            # one slow try: a blocking lookup would hold the loop for 30 s
            f.write(f"nameserver {dns.addr}\noptions timeout:30 attempts:1\n")
        wrapper = os.path.join(tmp, "realcomd")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec unshare -m --propagation private sh -c "
                    "'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"' "
                    f"{resolv} {itlib.REALCOMD} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        real = itlib.REALCOMD
        itlib.REALCOMD = wrapper
        sim = Sim("--echo", ports=2)
        self.addCleanup(sim.close)
        try:
            d = Realcomd({0: realcom_port(sim, 1, host=name), 1: realcom_port(sim, 2)})
        finally:
            itlib.REALCOMD = real
        self.addCleanup(shutil.rmtree, tmp, True)
        with d:
            a = open_tty(d.tty(0))
            b = open_tty(d.tty(1))
            try:
                self.assertTrue(dns.asked.wait(DEADLINE), "the lookup never reached the server")
                # ttyR0 waits for its answer; the loop does not
                self.assertEqual(d.port(0)["state"], "connecting")
                d.wait_state("up", 1)
                self.assertEqual(echo(b, b"not held up"), b"not held up")
                self.assertEqual(d.realcomctl("status").returncode, 0)
                self.assertEqual(d.port(0)["state"], "connecting")
                dns.release.set()
                p = d.wait_state("up", 0)
                self.assertTrue(p["peer"].startswith("127.0.0.1:"), p)
                self.assertEqual(echo(a, b"resolved"), b"resolved")
            finally:
                os.close(a)
                os.close(b)


class RefusedSettings(unittest.TestCase):
    TCGETS2, TCSETS2, BOTHER, CBAUD = 0x802C542A, 0x402C542B, 0o010000, 0o010017

    def set_custom_baud(self, fd, baud):
        import fcntl
        buf = bytearray(fcntl.ioctl(fd, self.TCGETS2, bytes(44)))
        iflag, oflag, cflag, lflag = struct.unpack_from("4I", buf)
        struct.pack_into("4I", buf, 0, iflag, oflag, (cflag & ~self.CBAUD) | self.BOTHER, lflag)
        struct.pack_into("2I", buf, 36, baud, baud)
        fcntl.ioctl(fd, self.TCSETS2, bytes(buf))

    def test_realcom_na_in_last_error(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                self.assertEqual(d.port()["last_error"], "")
                self.set_custom_baud(fd, 1000000)     # above the NPort's 921600: NA
                p = wait_for(lambda: (lambda p: p if p["last_error"] else None)(d.port()),
                             "the refusal in last_error")
                self.assertEqual(p["last_error"], "the device refused 1000000 baud")
                self.assertEqual(p["state"], "up")
                r = d.realcomctl("status")
                self.assertIn("the device refused 1000000 baud", r.stdout)
            finally:
                os.close(fd)

    def test_rfc2217_other_rate_in_last_error(self):
        with Sim(mode="rfc2217") as sim, \
                Realcomd({0: {"host": "127.0.0.1", "protocol": "rfc2217",
                              "tcp_port": sim.tcp_base + 1}}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                sim.wait_port("115200", lambda p: p["baud"] == 115200)
                self.set_custom_baud(fd, 1000000)     # the server keeps 115200
                p = wait_for(lambda: (lambda p: p if p["last_error"] else None)(d.port()),
                             "the other rate in last_error")
                self.assertEqual(p["last_error"],
                                 "the server answered SET-BAUDRATE with 115200, not 1000000")
            finally:
                os.close(fd)

    def test_rfc2217_xon_characters_in_last_error(self):
        """RFC 2217 has no command for XON/XOFF characters: other ones are
        said, not silently left out."""
        with Sim(mode="rfc2217") as sim, Realcomd({0: port_keys(sim, "rfc2217")}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                a = termios.tcgetattr(fd)
                a[0] |= termios.IXON | termios.IXOFF
                a[6][termios.VSTART], a[6][termios.VSTOP] = b"\x05", b"\x06"
                termios.tcsetattr(fd, termios.TCSANOW, a)
                p = wait_for(lambda: (lambda p: p if p["last_error"] else None)(d.port()),
                             "the characters in last_error")
                self.assertEqual(p["last_error"], "XON/XOFF characters 05/06: RFC 2217 cannot "
                                 "set them, the server uses its own (11/13)")
                self.assertTrue(sim.port()["flow"]["ixon"])
            finally:
                os.close(fd)

    def b0(self, mode):
        """B0 hangs up a UART's line (DTR and RTS, which a pty has not): the
        rate stays, and the rest of the same tcsetattr() still reaches the
        unit (it was dropped whole: "line settings cannot be sent")."""
        with Sim(mode=mode) as sim, Realcomd({0: port_keys(sim, mode)}) as d:
            fd = open_tty(d.tty(0), baud=termios.B38400)
            try:
                d.wait_state("up")
                sim.wait_port("38400", lambda p: p["baud"] == 38400)
                a = termios.tcgetattr(fd)
                a[2] |= termios.CRTSCTS | termios.CSTOPB
                a[4] = a[5] = termios.B0
                termios.tcsetattr(fd, termios.TCSANOW, a)
                p = sim.wait_port("RTS/CTS and 2 stop bits", lambda p: p["flow"]["cts"] and
                                  p["stop_bits"] == 2)
                self.assertEqual(p["baud"], 38400)
                self.assertNotIn("cannot be sent", d.log_text())
            finally:
                os.close(fd)

    def test_b0_keeps_the_rate(self):
        self.b0("realcom")

    def test_b0_keeps_the_rate_rfc2217(self):
        self.b0("rfc2217")


if __name__ == "__main__":
    unittest.main(verbosity=2)
