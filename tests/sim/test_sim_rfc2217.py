#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nportsim's RFC 2217 personality, driven with raw sockets: the Telnet
negotiation it opens with (RFC 1143 Q method), the exact reply to every
COM-PORT-OPTION command (docs/rfc2217.md), modem and line state notifications
under the client's masks, FF doubling in data and inside sub-negotiation
values, byte-at-a-time input, pyserial as a reference client, faults."""
import os
import socket
import sys
import unittest

import serial
import serial.rfc2217

sys.path.insert(0, os.path.dirname(__file__))
from simlib import Sim, expect_closed, read_n, recv_exact, wait_for, write_all  # noqa: E402

H = bytes.fromhex
IAC, SB, SE, WILL, WONT, DO, DONT = 255, 250, 240, 251, 252, 253, 254
BINARY, ECHO, SGA, TTYPE, COMPORT = 0, 1, 3, 24, 44


def opt(verb, option):
    return bytes([IAC, verb, option])


def esc(data):
    return data.replace(b"\xff", b"\xff\xff")


def sb(code, value=b""):
    """IAC SB 44 <code> <value, FF doubled> IAC SE (client codes 0..12)."""
    if isinstance(value, int):
        value = bytes([value])
    return bytes([IAC, SB, COMPORT, code]) + esc(value) + bytes([IAC, SE])


def reply(code, value=b""):
    """The server's answer to client code `code` (code + 100)."""
    return sb(100 + code, value)


def baud(n):
    return n.to_bytes(4, "big")


# What nportsim sends on accept, in this order (rf_ready).
OPENING = opt(DO, COMPORT) + opt(WILL, BINARY) + opt(DO, BINARY) + opt(WILL, SGA)
# A client's agreement to all of it.
AGREE = opt(WILL, COMPORT) + opt(WILL, BINARY) + opt(DO, BINARY) + opt(DO, SGA)
SIGNATURE = b"NPort 6150-G2 (nportsim)"
SIG_REQ = sb(0)
SIG_REPLY = reply(0, SIGNATURE)
MODEM_DEFAULT = 0xB0      # CD | DSR | CTS: nportsim's inputs start on


class Rfc2217Case(unittest.TestCase):
    """One simulator in RFC 2217 mode per test; its log is printed when the test fails."""
    sim_args = ()
    ports = 1

    def setUp(self):
        self.sim = Sim(*self.sim_args, ports=self.ports, mode="rfc2217")
        self.addCleanup(self.close_sim)

    def close_sim(self):
        if not self._outcome.success:
            print(f"nportsim log ({self.sim.path('nportsim.log')}):\n{self.sim.log_text()}")
        self.sim.close()

    def tcp_port(self, n=1):
        return self.sim.tcp_base + n

    def connect(self, n=1, agree=True):
        """Connect, check the opening negotiation; agree to it and check the first
        NOTIFY-MODEMSTATE unless agree is False."""
        s = self.sim.connect(self.tcp_port(n))
        self.assertEqual(recv_exact(s, len(OPENING)).hex(), OPENING.hex(), "opening negotiation")
        if agree:
            s.sendall(AGREE)
            self.assertEqual(recv_exact(s, 7).hex(), reply(7, MODEM_DEFAULT).hex(),
                             "NOTIFY-MODEMSTATE after WILL 44")
        return s

    def ask(self, s, request, want, what=None):
        s.sendall(request)
        got = recv_exact(s, len(want))
        self.assertEqual(got.hex(), want.hex(), what or f"reply to {request.hex()}")

    def ask_none(self, s, request=b"", what=None):
        """request is not answered: the next bytes on the wire are the reply to
        the SIGNATURE request sent right behind it."""
        self.ask(s, request + SIG_REQ, SIG_REPLY,
                 what or f"{request.hex()} must get no reply (next: the signature)")

    def status(self, n=1):
        return self.sim.port(n)


class Negotiation(Rfc2217Case):
    def test_opening_will_44_and_q_method(self):
        s = self.connect(agree=False)
        # The client agrees to 44: the modem state at once (CD DSR CTS on, no delta).
        self.ask(s, opt(WILL, COMPORT), H("fffa2c6bb0fff0"))
        # Answers to the server's own requests get no answer back.
        self.ask_none(s, opt(WILL, BINARY) + opt(DO, BINARY) + opt(DO, SGA))
        # The server side of 44 is DO: a client's DO 44 is refused.
        self.ask(s, opt(DO, COMPORT), opt(WONT, COMPORT))
        # Q method: options already on are never answered again.
        self.ask_none(s, opt(WILL, COMPORT), "a repeated WILL 44 must get no answer")
        self.ask_none(s, opt(WILL, BINARY) + opt(DO, BINARY) + opt(DO, SGA))
        # ECHO and anything unknown are refused; turning off what is off is silent.
        self.ask(s, opt(DO, ECHO), opt(WONT, ECHO))
        self.ask(s, opt(WILL, ECHO), opt(DONT, ECHO))
        self.ask(s, opt(DO, TTYPE), opt(WONT, TTYPE))
        self.ask(s, opt(WILL, TTYPE), opt(DONT, TTYPE))
        self.ask_none(s, opt(DONT, ECHO) + opt(WONT, ECHO) + opt(DONT, COMPORT))
        # Off and on again: a disable is acknowledged, a new request granted.
        self.ask(s, opt(DONT, BINARY), opt(WONT, BINARY))
        self.ask(s, opt(DO, BINARY), opt(WILL, BINARY))
        self.assertEqual(self.sim.commands(), ["2c00"] * 4)

    def test_notifications_wait_for_will_44(self):
        s = self.connect(agree=False)
        self.sim.ok(cmd="modem", port=1, cts=False)
        # No WILL 44 yet: no NOTIFY (it would come before the signature).
        self.ask_none(s)
        # Agreement brings the state in force; the change before it is no delta.
        self.ask(s, opt(WILL, COMPORT), reply(7, 0xA0))
        self.sim.ok(cmd="modem", port=1, cts=True)
        self.assertEqual(recv_exact(s, 7).hex(), reply(7, 0xB1).hex())
        self.ask_none(s)

    def test_nvt_cr_nul_until_binary(self):
        fd = self.sim.open_pty()
        try:
            s = self.connect(agree=False)
            self.ask(s, opt(WILL, COMPORT), reply(7, MODEM_DEFAULT))
            # The client has not said WILL BINARY: CR NUL stands for CR.
            s.sendall(b"a\r\x00b\r\nc")
            self.assertEqual(read_n(fd, 6), b"a\rb\r\nc")
            s.sendall(opt(WILL, BINARY) + b"d\r\x00e")
            self.assertEqual(read_n(fd, 4), b"d\r\x00e")
            self.ask_none(s)
            self.assertEqual(self.status()["to_serial"], 10)
        finally:
            os.close(fd)


class Commands(Rfc2217Case):
    def setUp(self):
        super().setUp()
        self.s = self.connect()

    def tearDown(self):
        self.ask_none(self.s, b"", "nothing left over after the test")

    def line(self):
        p = self.status()
        return (p["baud"], p["data_bits"], p["parity"], p["stop_bits"])

    def test_signature(self):
        self.ask(self.s, SIG_REQ, H("fffa2c64") + SIGNATURE + H("fff0"))
        # A client announcing its own signature gets no answer.
        self.ask_none(self.s, sb(0, b"realcom test"))
        self.assertEqual(self.sim.commands(),
                         ["2c00", "2c00" + b"realcom test".hex(), "2c00"])

    def test_set_baudrate(self):
        self.ask(self.s, sb(1, baud(57600)), H("fffa2c65 0000e100 fff0".replace(" ", "")))
        self.assertEqual(self.status()["baud"], 57600)
        self.ask(self.s, sb(1, baud(0)), reply(1, baud(57600)), "query")
        for bad in (10, 49, 921601, 1000000):
            self.ask(self.s, sb(1, baud(bad)), reply(1, baud(57600)), f"{bad} out of range")
            self.assertEqual(self.status()["baud"], 57600)
        for good in (50, 921600, 250000):
            self.ask(self.s, sb(1, baud(good)), reply(1, baud(good)))
            self.assertEqual(self.status()["baud"], good)
        self.assertEqual(self.sim.commands()[:2], ["2c010000e100", "2c0100000000"])

    def test_set_datasize(self):
        self.ask(self.s, sb(2, 7), H("fffa2c6607fff0"))
        self.assertEqual(self.status()["data_bits"], 7)
        self.ask(self.s, sb(2, 0), reply(2, 7), "query")
        for bad in (4, 9, 255):
            self.ask(self.s, sb(2, bad), reply(2, 7), f"data size {bad}")
        self.assertEqual(self.status()["data_bits"], 7)
        for good in (5, 6, 8):
            self.ask(self.s, sb(2, good), reply(2, good))
            self.assertEqual(self.status()["data_bits"], good)

    def test_set_parity(self):
        for wire, name in ((2, "odd"), (3, "even"), (4, "mark"), (5, "space"), (1, "none")):
            self.ask(self.s, sb(3, wire), bytes([IAC, SB, COMPORT, 103, wire, IAC, SE]))
            self.assertEqual(self.status()["parity"], name)
            self.ask(self.s, sb(3, 0), reply(3, wire), f"query after {name}")
        self.ask(self.s, sb(3, 3), reply(3, 3))
        self.ask(self.s, sb(3, 6), reply(3, 3), "parity 6 is not in the RFC")
        self.assertEqual(self.status()["parity"], "even")

    def test_set_stopsize(self):
        for wire, stop in ((2, 2), (3, 1.5), (1, 1)):
            self.ask(self.s, sb(4, wire), bytes([IAC, SB, COMPORT, 104, wire, IAC, SE]))
            self.assertEqual(self.status()["stop_bits"], stop)
            self.ask(self.s, sb(4, 0), reply(4, wire), "query")
        self.ask(self.s, sb(4, 4), reply(4, 1), "stop size 4 is not in the RFC")
        self.assertEqual(self.status()["stop_bits"], 1)

    def test_all_line_settings_together(self):
        self.ask(self.s, sb(1, baud(19200)) + sb(2, 7) + sb(3, 3) + sb(4, 2),
                 reply(1, baud(19200)) + reply(2, 7) + reply(3, 3) + reply(4, 2))
        self.assertEqual(self.line(), (19200, 7, "even", 2))

    def flow(self):
        return self.status()["flow"]

    def test_set_control_outbound_flow(self):
        none = {"cts": False, "rts": False, "ixon": False, "ixoff": False}
        self.ask(self.s, sb(5, 0), reply(5, 1), "outbound flow query: none")
        self.ask(self.s, sb(5, 2), reply(5, 2))
        self.assertEqual(self.flow(), dict(none, ixon=True))
        self.ask(self.s, sb(5, 0), reply(5, 2))
        self.ask(self.s, sb(5, 3), reply(5, 3))
        self.assertEqual(self.flow(), dict(none, cts=True))
        self.ask(self.s, sb(5, 0), reply(5, 3))
        # 17-19 (DCD/DTR/DSR flow): the G2 has none; answered with the flow in force.
        for v in (17, 18, 19):
            self.ask(self.s, sb(5, v), reply(5, 3), f"SET-CONTROL {v}")
        self.assertEqual(self.flow(), dict(none, cts=True))
        self.ask(self.s, sb(5, 1), reply(5, 1))
        self.assertEqual(self.flow(), none)
        for v in (17, 18, 19):
            self.ask(self.s, sb(5, v), reply(5, 1), f"SET-CONTROL {v}")

    def test_set_control_inbound_flow(self):
        none = {"cts": False, "rts": False, "ixon": False, "ixoff": False}
        self.ask(self.s, sb(5, 13), reply(5, 14), "inbound flow query: none")
        self.ask(self.s, sb(5, 15), reply(5, 15))
        self.assertEqual(self.flow(), dict(none, ixoff=True))
        self.ask(self.s, sb(5, 13), reply(5, 15))
        self.ask(self.s, sb(5, 16), reply(5, 16))
        self.assertEqual(self.flow(), dict(none, rts=True))
        self.ask(self.s, sb(5, 13), reply(5, 16))
        # the two directions are independent
        self.ask(self.s, sb(5, 2), reply(5, 2))
        self.assertEqual(self.flow(), dict(none, rts=True, ixon=True))
        self.ask(self.s, sb(5, 0), reply(5, 2))
        self.ask(self.s, sb(5, 14), reply(5, 14))
        self.assertEqual(self.flow(), dict(none, ixon=True))
        self.ask(self.s, sb(5, 17), reply(5, 2), "17 answers the outbound flow")

    def test_set_control_break(self):
        self.ask(self.s, sb(5, 4), reply(5, 6), "break query: off")
        self.ask(self.s, sb(5, 5), reply(5, 5))
        p = self.status()
        self.assertEqual((p["break"], p["breaks_sent"]), (True, 1))
        self.ask(self.s, sb(5, 4), reply(5, 5), "break query: on")
        self.ask(self.s, sb(5, 5), reply(5, 5), "break on while on")
        self.assertEqual(self.status()["breaks_sent"], 1)
        self.ask(self.s, sb(5, 6), reply(5, 6))
        p = self.status()
        self.assertEqual((p["break"], p["breaks_sent"]), (False, 1))
        self.ask(self.s, sb(5, 4), reply(5, 6))
        self.ask(self.s, sb(5, 5) + sb(5, 6), reply(5, 5) + reply(5, 6))
        p = self.status()
        self.assertEqual((p["break"], p["breaks_sent"]), (False, 2))

    def test_set_control_dtr_rts(self):
        p = self.status()
        self.assertEqual((p["dtr"], p["rts"]), (True, True))
        self.ask(self.s, sb(5, 7), reply(5, 8), "DTR query: on")
        self.ask(self.s, sb(5, 10), reply(5, 11), "RTS query: on")
        self.ask(self.s, sb(5, 9), reply(5, 9))
        p = self.status()
        self.assertEqual((p["dtr"], p["rts"]), (False, True))
        self.ask(self.s, sb(5, 7), reply(5, 9))
        self.ask(self.s, sb(5, 12), reply(5, 12))
        p = self.status()
        self.assertEqual((p["dtr"], p["rts"]), (False, False))
        self.ask(self.s, sb(5, 10), reply(5, 12))
        # no atomic DTR+RTS: two SET-CONTROLs back to back (docs/rfc2217.md)
        self.ask(self.s, sb(5, 8) + sb(5, 11), reply(5, 8) + reply(5, 11))
        p = self.status()
        self.assertEqual((p["dtr"], p["rts"]), (True, True))
        self.ask(self.s, sb(5, 7) + sb(5, 10), reply(5, 8) + reply(5, 11))

    def test_set_control_outside_the_rfc(self):
        for v in (20, 99, 255):
            self.ask_none(self.s, sb(5, v), f"SET-CONTROL {v}")
        self.assertEqual(self.sim.commands(), ["2c0514", "2c00", "2c0563", "2c00", "2c05ff", "2c00"])

    def test_client_notifications_and_server_codes_ignored(self):
        self.ask_none(self.s, sb(6, 0x55), "NOTIFY-LINESTATE from a client")
        self.ask_none(self.s, sb(7, 0xB0), "NOTIFY-MODEMSTATE from a client")
        self.ask_none(self.s, sb(7), "pyserial's empty NOTIFY-MODEMSTATE poll")
        self.ask_none(self.s, sb(101, baud(2400)), "a server code from a client")
        self.ask_none(self.s, sb(13, 1), "code 13 is not in the RFC")
        self.assertEqual(self.status()["baud"], 9600)
        log = self.sim.ok(cmd="log", port=1)["log"]
        self.assertEqual([(e["hex"], e["known"]) for e in log[::2]],
                         [("2c0655", True), ("2c07b0", True), ("2c07", False),
                          ("2c6500000960", True), ("2c0d01", False)])

    def test_masks(self):
        self.ask(self.s, sb(10, 0x1E), H("fffa2c6e1efff0"))
        self.ask(self.s, sb(11, 0x33), H("fffa2c6f33fff0"))
        p = self.status()
        self.assertEqual((p["linestate_mask"], p["modemstate_mask"]), (0x1E, 0x33))
        self.ask(self.s, sb(10, 0), reply(10, 0))
        self.ask(self.s, sb(11, 0), reply(11, 0))
        p = self.status()
        self.assertEqual((p["linestate_mask"], p["modemstate_mask"]), (0, 0))

    def test_purge(self):
        for v in (1, 2, 3):
            self.ask(self.s, sb(12, v), bytes([IAC, SB, COMPORT, 112, v, IAC, SE]))
        for v in (0, 4, 255):
            self.ask_none(self.s, sb(12, v), f"PURGE-DATA {v}")
        self.assertEqual(self.sim.commands()[:3], ["2c0c01", "2c0c02", "2c0c03"])

    def fill_pty(self, fd, chunk):
        """Write to the pty until it takes no more (the simulator reads nothing
        while suspended); returns what was written."""
        written = b""
        for _ in range(4096):              # bounded: a pty holds well under 4096 chunks
            try:
                written += chunk[:os.write(fd, chunk)]
            except BlockingIOError:
                return written
        self.fail("the pty never filled up: is the simulator reading while suspended?")

    def test_flowcontrol_suspend_resume(self):
        fd = self.sim.open_pty()
        try:
            self.ask_none(self.s, sb(8), "FLOWCONTROL-SUSPEND")
            self.assertTrue(self.status()["suspended"])
            held = self.fill_pty(fd, bytes(range(255)))   # no FF: 1 byte each on the wire
            # Nothing was read from the full pty, nothing came to us but the signature.
            self.ask_none(self.s)
            p = self.status()
            self.assertEqual((p["suspended"], p["from_serial"]), (True, 0))
            # Network -> serial still flows.
            self.s.sendall(b"still sending")
            self.assertEqual(read_n(fd, 13), b"still sending")
            self.s.sendall(sb(9))
            self.assertEqual(recv_exact(self.s, len(held)), held)
            p = self.status()
            self.assertEqual((p["suspended"], p["from_serial"]), (False, len(held)))
            write_all(fd, b"after")
            self.assertEqual(recv_exact(self.s, 5), b"after")
            self.assertEqual(self.sim.commands(), ["2c08", "2c00", "2c00", "2c09"])
        finally:
            os.close(fd)

    def test_purge_rx_drops_waiting_serial_data(self):
        fd = self.sim.open_pty()
        try:
            self.ask_none(self.s, sb(8))
            write_all(fd, b"stale line noise")
            self.ask(self.s, sb(12, 1), reply(12, 1))
            self.s.sendall(sb(9))
            write_all(fd, b"fresh")
            self.assertEqual(recv_exact(self.s, 5), b"fresh")
            self.assertEqual(self.status()["from_serial"], 5)
        finally:
            os.close(fd)


class PurgeTransmit(Rfc2217Case):
    sim_args = ("--line-rate", "on")

    def test_purge_tx_drops_queued_data(self):
        s = self.connect()
        fd = self.sim.open_pty()
        try:
            # 50 baud 8N1 = 5 bytes/s: 200 bytes would take 40 s on the line.
            self.ask(s, sb(1, baud(50)), reply(1, baud(50)))
            for v in (2, 3):
                s.sendall(b"x" * 200)
                self.sim.wait_port("data in the transmit queue", lambda p: p["tx_queue"] > 0)
                self.ask(s, sb(12, v), reply(12, v))
                self.assertEqual(self.status()["tx_queue"], 0, f"after PURGE-DATA {v}")
            s.sendall(b"x" * 100)
            self.sim.wait_port("data in the transmit queue", lambda p: p["tx_queue"] > 0)
            self.ask(s, sb(12, 1), reply(12, 1))
            self.assertGreater(self.status()["tx_queue"], 0, "PURGE-DATA 1 keeps the tx queue")
        finally:
            os.close(fd)


class Notifications(Rfc2217Case):
    def setUp(self):
        super().setUp()
        self.s = self.connect()

    def tearDown(self):
        self.ask_none(self.s, b"", "nothing left over after the test")

    def modem(self, want, **lines):
        self.sim.ok(cmd="modem", port=1, **lines)
        self.assertEqual(recv_exact(self.s, 7).hex(), reply(7, want).hex(), f"modem {lines}")

    def test_modem_changes(self):
        self.modem(0xA1, cts=False)             # CD DSR, delta CTS
        self.modem(0xB1, cts=True)
        self.modem(0x38, dcd=False)             # DSR CTS, delta CD
        self.modem(0x70, ri=True)               # RI rising: state only
        self.modem(0x34, ri=False)              # RI trailing edge
        self.modem(0x12, dsr=False)             # CTS, delta DSR
        self.modem(0xAB, dcd=True, dsr=True, cts=False)   # CD DSR, 3 deltas: one notification
        self.ask_none(self.s)
        self.sim.ok(cmd="modem", port=1, dcd=True)         # no change: nothing
        self.ask_none(self.s)
        p = self.status()
        self.assertEqual((p["cts"], p["dsr"], p["dcd"], p["ri"]), (False, True, True, False))

    def test_modem_mask(self):
        self.ask(self.s, sb(11, 0), reply(11, 0))
        self.sim.ok(cmd="modem", port=1, cts=False)
        self.sim.ok(cmd="modem", port=1, cts=True, ri=True)
        self.ask_none(self.s, b"", "modem state mask 0: no NOTIFY")
        self.ask(self.s, sb(11, 0x01), reply(11, 0x01))     # delta CTS only
        self.sim.ok(cmd="modem", port=1, dcd=False)
        self.ask_none(self.s, b"", "a CD change under mask 01")
        self.modem(0x01, cts=False)
        self.ask(self.s, sb(11, 0x80), reply(11, 0x80))     # CD state only
        self.sim.ok(cmd="modem", port=1, dsr=False)
        self.ask_none(self.s, b"", "CD is off: nothing under mask 80")
        self.modem(0x80, dcd=True)

    def test_line_errors(self):
        # The initial line state mask is 0: nothing is reported.
        self.assertEqual(self.status()["linestate_mask"], 0)
        self.sim.ok(cmd="inject", port=1, events=["parity", "framing", "overrun", "break"])
        self.ask_none(self.s, b"", "line state mask 0")
        self.assertEqual(self.status()["breaks_received"], 1)
        self.ask(self.s, sb(10, 0xFF), H("fffa2c6effffff f0".replace(" ", "")))
        for event, bits in (("parity", 0x04), ("framing", 0x08), ("overrun", 0x02),
                            ("break", 0x10)):
            self.sim.ok(cmd="inject", port=1, events=[event])
            self.assertEqual(recv_exact(self.s, 7).hex(), reply(6, bits).hex(), event)
        self.sim.ok(cmd="inject", port=1, events=["parity", "framing", "overrun", "break"])
        self.assertEqual(recv_exact(self.s, 7).hex(), reply(6, 0x1E).hex())
        self.ask(self.s, sb(10, 0x04), reply(10, 0x04))
        self.sim.ok(cmd="inject", port=1, events=["framing"])
        self.ask_none(self.s, b"", "framing under mask 04")
        self.sim.ok(cmd="inject", port=1, events=["framing", "parity"])
        self.assertEqual(recv_exact(self.s, 7).hex(), reply(6, 0x04).hex())
        self.assertEqual(self.status()["breaks_received"], 3)


class Escaping(Rfc2217Case):
    def test_ff_inside_sub_negotiations(self):
        s = self.connect()
        self.assertEqual(0x0001FF00, 130816)
        self.ask(s, sb(1, baud(130816)), H("fffa2c65 0001ffff00 fff0".replace(" ", "")))
        self.assertEqual(self.status()["baud"], 130816)
        self.ask(s, H("fffa2c0bfffffff0"), H("fffa2c6ffffffff0"))     # modem state mask 255
        self.ask(s, sb(10, 0xFF), H("fffa2c6efffffff0"))
        self.ask(s, sb(5, 0xFF) + SIG_REQ, SIG_REPLY, "SET-CONTROL 255: no reply")
        p = self.status()
        self.assertEqual((p["linestate_mask"], p["modemstate_mask"]), (255, 255))
        # the log keeps the values unescaped
        self.assertEqual(self.sim.commands(), ["2c010001ff00", "2c0bff", "2c0aff", "2c05ff", "2c00"])

    def test_data_all_bytes_both_ways(self):
        s = self.connect()
        fd = self.sim.open_pty()
        try:
            everything = bytes(range(256)) * 4
            s.sendall(esc(everything))
            self.assertEqual(read_n(fd, len(everything)), everything)
            write_all(fd, everything[::-1])
            want = esc(everything[::-1])
            self.assertEqual(len(want), 1028)
            self.assertEqual(recv_exact(s, len(want)), want)
            p = self.status()
            self.assertEqual((p["to_serial"], p["from_serial"]), (1024, 1024))
            self.ask_none(s)
        finally:
            os.close(fd)


class SplitInput(Rfc2217Case):
    # Negotiation, sub-negotiations (one with FF FF inside) and data, mixed.
    STREAM = (opt(WILL, COMPORT) + b"ab" + opt(WILL, BINARY) + opt(DO, BINARY)
              + sb(1, baud(130816)) + b"\xff\xff\r\x00c" + opt(DO, SGA) + SIG_REQ + b"d"
              + sb(5, 9) + opt(DO, COMPORT) + sb(11, 0xFF) + b"\r\n\xff\xff" + sb(10, 0x0C)
              + sb(7, 0xB0) + b"e")
    REPLIES = (reply(7, MODEM_DEFAULT) + reply(1, baud(130816)) + SIG_REPLY + reply(5, 9)
               + opt(WONT, COMPORT) + reply(11, 0xFF) + reply(10, 0x0C))
    DATA = b"ab" + b"\xff\r\x00c" + b"d" + b"\r\n\xff" + b"e"
    LOG = ["2c010001ff00", "2c00", "2c0509", "2c0bff", "2c0a0c", "2c07b0"]

    def session(self, fd, one_byte_per_send):
        self.sim.commands(clear=True)
        s = self.connect(agree=False)
        if one_byte_per_send:
            for b in self.STREAM:
                s.sendall(bytes([b]))
        else:
            s.sendall(self.STREAM)
        self.assertEqual(recv_exact(s, len(self.REPLIES)).hex(), self.REPLIES.hex())
        self.assertEqual(read_n(fd, len(self.DATA)), self.DATA)
        self.ask_none(s)
        self.assertEqual(self.sim.commands(), self.LOG + ["2c00"])
        p = self.status()
        self.assertEqual((p["baud"], p["dtr"], p["linestate_mask"]), (130816, False, 0x0C))
        s.close()
        self.sim.wait_port("the host to be gone", lambda p: not p["connected"])

    def test_whole_then_one_byte_per_send(self):
        fd = self.sim.open_pty()
        try:
            self.session(fd, False)
            self.session(fd, True)
            self.assertEqual(self.status()["sessions"], 2)
        finally:
            os.close(fd)


class PySerial(Rfc2217Case):
    """Debian's pyserial 3.5 as a reference client, without ?ign_set_control:
    nportsim answers every SET-CONTROL with the value asked for."""

    def test_pyserial_client(self):
        ser = serial.serial_for_url(f"rfc2217://127.0.0.1:{self.tcp_port()}", baudrate=19200,
                                    bytesize=7, parity="E", stopbits=2, timeout=5)
        self.addCleanup(ser.close)
        p = self.status()
        self.assertEqual((p["baud"], p["data_bits"], p["parity"], p["stop_bits"]),
                         (19200, 7, "even", 2))
        self.assertEqual((p["dtr"], p["rts"]), (True, True))
        self.assertEqual(p["flow"], {"cts": False, "rts": False, "ixon": False, "ixoff": False})
        log = self.sim.commands()
        # pyserial's open: the four settings, "no flow control", DTR on, RTS on, purges
        self.assertEqual(log[:5], ["2c0100004b00", "2c0207", "2c0303", "2c0402", "2c0501"])
        self.assertIn("2c0508", log)
        self.assertIn("2c050b", log)

        ser.baudrate = 250000
        ser.dtr = False
        ser.rts = False
        p = self.status()
        self.assertEqual((p["baud"], p["dtr"], p["rts"]), (250000, False, False))
        ser.rtscts = True
        self.assertEqual(self.status()["flow"]["cts"], True)
        ser.rtscts = False
        self.assertEqual(self.status()["flow"]["cts"], False)

        fd = self.sim.open_pty()
        try:
            out = b"to the line \xff\x00\r\n\xff\xff end"
            ser.write(out)
            self.assertEqual(read_n(fd, len(out)), out)
            back = b"from the line \xff\r\x00\xff end"
            write_all(fd, back)
            self.assertEqual(ser.read(len(back)), back)
        finally:
            os.close(fd)

        # pyserial 3.5 marks "we-RFC2217" active when the server's DO 44 reaches its
        # reader thread before its open() has sent WILL 44, and then never sends it
        # (a race, about half of all opens here).  Without WILL 44 the server, per
        # RFC 1143, has no COM port option and sends no notifications.  Say WILL 44
        # again through pyserial's own API: the Q method makes this harmless when
        # the first one did go out.
        ser.telnet_send_option(serial.rfc2217.WILL, serial.rfc2217.COM_PORT_OPTION)

        def lines():
            try:
                return (ser.cts, ser.dsr, ser.cd, ser.ri)
            except serial.SerialException:       # no NOTIFY-MODEMSTATE yet
                return None

        wait_for(lambda: lines() == (True, True, True, False), "pyserial: CTS DSR CD on")
        for change, want in (({"cts": False}, (False, True, True, False)),
                             ({"dsr": False, "dcd": False}, (False, False, False, False)),
                             ({"ri": True}, (False, False, False, True)),
                             ({"cts": True, "dsr": True, "dcd": True, "ri": False},
                              (True, True, True, False))):
            self.sim.ok(cmd="modem", port=1, **change)
            wait_for(lambda: lines() == want, f"pyserial to see {change} as {want}")

        ser.send_break(duration=0.01)
        p = self.status()
        self.assertEqual((p["breaks_sent"], p["break"]), (1, False))

        self.sim.commands(clear=True)
        ser.reset_input_buffer()
        self.assertEqual(self.sim.commands(), ["2c0c01"])
        ser.reset_output_buffer()
        self.assertEqual(self.sim.commands(), ["2c0c01", "2c0c02"])

        ser.close()
        self.sim.wait_port("pyserial to be gone", lambda p: not p["connected"])


class Faults(Rfc2217Case):
    def test_drop_and_reconnect(self):
        s = self.connect()
        self.ask(s, sb(10, 0xFF) + sb(11, 0), reply(10, 0xFF) + reply(11, 0))
        self.sim.ok(cmd="drop", port=1)
        expect_closed(s)
        p = self.status()
        self.assertFalse(p["connected"])
        self.assertIn("dropped", p["last_error"])
        s = self.connect()                       # masks are per session: back to 0 / 255
        p = self.status()
        self.assertEqual((p["linestate_mask"], p["modemstate_mask"], p["sessions"]), (0, 255, 2))
        self.ask_none(s)

    def suspended_session_ends(self, end):
        fd = self.sim.open_pty()
        try:
            s = self.connect()
            self.ask_none(s, sb(8))
            end(s)
            self.sim.wait_port("the host to be gone", lambda p: not p["connected"])
            self.assertFalse(self.status()["suspended"])
            # Without a host, serial input is read and dropped ...
            write_all(fd, b"nobody listens")
            self.sim.wait_port("the input to be read", lambda p: p["from_serial"] == 14)
            # ... and never reaches the next host.
            s = self.connect()
            self.ask_none(s, b"", "stale serial data must not reach a new session")
            write_all(fd, b"new")
            self.assertEqual(recv_exact(s, 3), b"new")
            s.close()
        finally:
            os.close(fd)

    def test_suspended_session_closed_by_the_host(self):
        self.suspended_session_ends(lambda s: s.close())

    def test_suspended_session_dropped(self):
        self.suspended_session_ends(lambda s: self.sim.ok(cmd="drop", port=1))

    def test_one_host_per_port(self):
        s = self.connect()
        extra = self.sim.connect(self.tcp_port())
        expect_closed(extra)
        self.assertEqual(self.status()["sessions"], 1)
        self.ask_none(s, b"", "the first host is still served")
        s.close()
        self.sim.wait_port("the port to be free", lambda p: not p["connected"])
        s = self.connect()
        self.assertEqual(self.status()["sessions"], 2)
        self.ask_none(s)

    def test_reboot_refuses_then_accepts(self):
        s = self.connect()
        self.ask(s, sb(1, baud(57600)), reply(1, baud(57600)))
        self.sim.ok(cmd="reboot", ms=500)
        expect_closed(s)
        self.assertTrue(self.sim.ctl(cmd="status")["rebooting"])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.tcp_port()), timeout=5)
        wait_for(lambda: not self.sim.ctl(cmd="status")["rebooting"], "the reboot to end")
        s = self.connect()
        self.assertEqual(self.status()["baud"], 9600)          # settings back to defaults
        self.ask(s, sb(1, baud(0)), reply(1, baud(9600)))

    def test_stall(self):
        s = self.connect()
        self.sim.ok(cmd="stall", port=1, ms=3000)
        s.sendall(SIG_REQ)
        # stalled: the request waits unread, then is answered
        self.assertEqual(self.status()["commands"], 0)
        self.assertEqual(recv_exact(s, len(SIG_REPLY)), SIG_REPLY)
        self.assertEqual(self.status()["commands"], 1)


class TwoPorts(Rfc2217Case):
    ports = 2

    def test_ports_independent(self):
        s1 = self.connect(1)
        s2 = self.connect(2)
        self.assertEqual(self.sim.port(2)["tcp_port"], self.sim.tcp_base + 2)
        self.ask(s2, sb(1, baud(115200)), reply(1, baud(115200)))
        self.assertEqual((self.sim.port(1)["baud"], self.sim.port(2)["baud"]), (9600, 115200))
        self.sim.ok(cmd="modem", port=2, cts=False)
        self.assertEqual(recv_exact(s2, 7), reply(7, 0xA1))
        self.ask_none(s1, b"", "port 2's modem change is not port 1's")
        self.ask_none(s2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
