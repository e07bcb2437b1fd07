#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nportsim's Real COM personality, driven with raw sockets: the exact reply
bytes for every ASPP command (docs/realcom-protocol.md), interleaving, NOTIFY,
POLLING, WAIT_OQUEUE with line-rate pacing, one host per port, faults."""
import os
import random
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from simlib import Sim, echo, expect_closed, read_n, recv_exact, wait_for, write_all  # noqa: E402

H = bytes.fromhex
LSTATUS = H("1300")
LSTATUS_ALL_ON = H("1303010101")   # DSR CTS DCD: nportsim's inputs start on


def ok(cmd):
    return bytes([cmd]) + b"OK"


def na(cmd):
    return bytes([cmd]) + b"NA"


class RealComCommands(unittest.TestCase):
    def setUp(self):
        self.sim = Sim(ports=2)
        self.c, self.d = self.sim.realcom()

    def tearDown(self):
        self.c.close()
        self.d.close()
        self.sim.close()

    def ask(self, cmd_hex, reply):
        self.c.sendall(H(cmd_hex))
        got = recv_exact(self.c, len(reply))
        self.assertEqual(got.hex(), reply.hex(), f"reply to {cmd_hex}")

    def test_port_init_doc_example(self):
        # 19200 7E1, DTR+RTS, no flow control (docs/realcom-protocol.md, PORT_INIT)
        self.ask("2c08070a010100000000", H("2c03010101"))
        p = self.sim.port()
        self.assertEqual((p["baud"], p["data_bits"], p["parity"], p["stop_bits"]),
                         (19200, 7, "even", 1))
        self.assertTrue(p["dtr"] and p["rts"] and p["notify"] and p["polling"])
        self.assertEqual(self.sim.commands(), ["2c08070a010100000000"])

    def test_port_init_mark_space_flow(self):
        self.ask("2c08061f01010000 0000".replace(" ", ""), H("2c03010101"))
        p = self.sim.port()
        self.assertEqual((p["baud"], p["data_bits"], p["parity"], p["stop_bits"]),
                         (9600, 8, "mark", 2))
        self.ask("2c080a2300000101 0101".replace(" ", ""), H("2c03010101"))
        p = self.sim.port()
        self.assertEqual((p["baud"], p["data_bits"], p["parity"]), (115200, 8, "space"))
        self.assertEqual(p["flow"], {"cts": True, "rts": True, "ixon": True, "ixoff": True})
        self.assertFalse(p["dtr"] or p["rts"])

    def test_custom_baud(self):
        # 250000: index FF then SETBAUD 17 04 90 D0 03 00
        self.ask("2c08ff030101000000 00".replace(" ", "") + "170490d00300",
                 H("2c03010101") + ok(0x17))
        self.assertEqual(self.sim.port()["baud"], 250000)

    def test_setbaud_range(self):
        for value, good in ((50, True), (49, False), (921600, True), (921601, False),
                            (1800, True), (0, False)):
            self.ask("1704" + value.to_bytes(4, "little").hex(),
                     ok(0x17) if good else na(0x17))
        self.assertEqual(self.sim.port()["baud"], 1800)

    def test_every_setter(self):
        self.ask("10020a17", ok(0x10))                               # IOCTL 115200, 8 bits 2 stop odd
        p = self.sim.port()
        self.assertEqual((p["baud"], p["data_bits"], p["stop_bits"], p["parity"]),
                         (115200, 8, 2, "odd"))
        self.ask("110401000100", ok(0x11))                           # FLOWCTRL CTS + IXON
        self.assertEqual(self.sim.port()["flow"],
                         {"cts": True, "rts": False, "ixon": True, "ixoff": False})
        self.ask("12020001", ok(0x12))                               # LINECTRL DTR off RTS on
        p = self.sim.port()
        self.assertEqual((p["dtr"], p["rts"]), (False, True))
        self.ask("12020101", ok(0x12))
        self.ask("18020a0b", ok(0x18))                               # XONXOFF
        p = self.sim.port()
        self.assertEqual((p["xon"], p["xoff"]), (10, 11))
        for which in ("00", "01", "02"):
            self.ask("1401" + which, ok(0x14))                       # FLUSH rx, tx, both
        self.ask("3001 01".replace(" ", ""), ok(0x30))               # TX_FIFO 1
        self.assertEqual(self.sim.port()["fifo"], 1)
        self.ask("2100", ok(0x21))                                   # START_BREAK
        self.assertTrue(self.sim.port()["break"])
        self.ask("2200", ok(0x22))                                   # STOP_BREAK
        self.ask("2302012c", ok(0x23))                               # BREAKSEND 300 ms (BE)
        self.ask("23020005", na(0x23))                               # 5 ms: out of range
        self.ask("230203e9", na(0x23))                               # 1001 ms
        p = self.sim.port()
        self.assertEqual((p["break"], p["breaks_sent"]), (False, 2))
        self.ask("3400", ok(0x34))                                   # SETXOFF
        self.assertTrue(self.sim.port()["held"])
        self.ask("3300", ok(0x33))                                   # SETXON
        self.assertFalse(self.sim.port()["held"])
        self.ask("2400", ok(0x24))                                   # START_NOTIFY
        self.ask("2500", ok(0x25))                                   # STOP_NOTIFY
        self.assertFalse(self.sim.port()["notify"])
        self.ask("2003313661", ok(0x20))                             # PORT_RESET '1' '6' 'a'
        self.ask("2003313662", na(0x20))
        p = self.sim.port()
        self.assertEqual((p["baud"], p["data_bits"], p["parity"], p["xon"]), (9600, 8, "none", 17))

    def test_queries(self):
        self.ask("1300", LSTATUS_ALL_ON)
        self.ask("1500", H("150200 00".replace(" ", "")))
        self.ask("1600", H("16020000"))
        self.ask("3700", H("37020000"))
        self.ask("3800", H("380100"))
        self.ask("2f04e8030000", H("2f020000"))   # WAIT_OQUEUE, nothing queued: at once
        self.sim.ok(cmd="modem", port=1, cts=False, dcd=False)
        self.ask("1300", H("1303010000"))
        for _ in range(3):
            self.sim.ok(cmd="inject", port=1, events=["break"])
        self.ask("3700", H("37020003"))           # BREAK_COUNT is big-endian

    def test_unknown_and_wrong_length_are_silent(self):
        # No reply at all; the next command's reply is the next thing on the wire.
        for bad in ("9900", "2901aa", "1301ff", "17020000", "2c0700000000000000", "2600", "2701 01"):
            self.c.sendall(H(bad.replace(" ", "")) + LSTATUS)
            self.assertEqual(recv_exact(self.c, 5), LSTATUS_ALL_ON, bad)
        log = self.sim.commands()
        self.assertIn("9900", log)
        self.assertIn("2c0700000000000000", log)

    def test_several_per_write_and_split(self):
        batch = H("1300" "12020101" "1600" "2200" "3800")
        want = LSTATUS_ALL_ON + ok(0x12) + H("16020000") + ok(0x22) + H("380100")
        self.c.sendall(batch)
        self.assertEqual(recv_exact(self.c, len(want)), want)
        for b in batch:                      # one byte per segment
            self.c.sendall(bytes([b]))
        self.assertEqual(recv_exact(self.c, len(want)), want)
        self.assertEqual(self.sim.commands()[-5:], ["1300", "12020101", "1600", "2200", "3800"])

    def test_notify(self):
        # Before PORT_INIT / START_NOTIFY: no NOTIFY.  The LSTATUS reply comes first.
        self.sim.ok(cmd="modem", port=1, cts=False)
        self.c.sendall(LSTATUS)
        self.assertEqual(recv_exact(self.c, 5), H("1303010001"))
        # PORT_INIT, then a change: 26 events msr hold
        # PORT_INIT switches NOTIFY on: the CTS drop made meanwhile follows its reply
        self.ask("2c080603010100000000", H("2c03010001") + H("2620a180"))
        self.sim.ok(cmd="modem", port=1, cts=True)
        self.assertEqual(recv_exact(self.c, 4), H("26 20 b1 80".replace(" ", "")))
        self.sim.ok(cmd="modem", port=1, dcd=False, ri=True)
        self.assertEqual(recv_exact(self.c, 4), H("26207c80"))
        self.sim.ok(cmd="inject", port=1, events=["parity", "framing", "overrun"])
        self.assertEqual(recv_exact(self.c, 4), H("26077080"))
        # hold: CTS flow with CTS low shows 01, XOFF received 08
        self.ask("110401000000", ok(0x11))
        self.sim.ok(cmd="modem", port=1, cts=False)
        self.assertEqual(recv_exact(self.c, 4), H("26206181"))
        # STOP_NOTIFY silences; START_NOTIFY reports the change made meanwhile
        self.ask("2500", ok(0x25))
        self.sim.ok(cmd="modem", port=1, dsr=False)
        self.c.sendall(H("2400"))
        self.assertEqual(recv_exact(self.c, 3 + 4), ok(0x24) + H("26204281"))

    def test_port_init_reply_then_notify(self):
        self.ask("2c08060301010000 0000".replace(" ", ""), H("2c03010101"))
        self.ask("2500", ok(0x25))
        self.sim.ok(cmd="modem", port=1, dcd=False)
        # the pending change follows the PORT_INIT reply at once (allowed by the doc)
        self.c.sendall(H("2c080603010100000000"))
        self.assertEqual(recv_exact(self.c, 5 + 4), H("2c03010100") + H("26203880"))

    def test_data_both_ways_all_bytes(self):
        fd = self.sim.open_pty()
        try:
            everything = bytes(range(256)) * 8
            self.d.sendall(everything)
            self.assertEqual(read_n(fd, len(everything)), everything)
            write_all(fd, everything[::-1])
            self.assertEqual(recv_exact(self.d, len(everything)), everything[::-1])
            p = self.sim.port()
            self.assertEqual((p["to_serial"], p["from_serial"]), (2048, 2048))
        finally:
            os.close(fd)

    def test_one_host_per_port_and_close_together(self):
        extra = self.sim.connect(self.sim.data_port())
        expect_closed(extra)
        extra = self.sim.connect(self.sim.command_port())
        expect_closed(extra)
        self.assertEqual(self.sim.port()["sessions"], 1)
        self.d.close()
        expect_closed(self.c)          # the device closes both together
        self.sim.wait_port("the port to be free", lambda p: not p["connected"])
        c, d = self.sim.realcom()      # and accepts the next host
        self.assertEqual(self.sim.port()["sessions"], 2)
        c.close()
        expect_closed(d)

    def test_port2_independent(self):
        c2, d2 = self.sim.realcom(2)
        c2.sendall(H("1704 80250000".replace(" ", "")))   # 9600 on port 2 only
        self.assertEqual(recv_exact(c2, 3), ok(0x17))
        self.assertEqual(self.sim.port(2)["baud"], 9600)
        self.ask("17040096 0000".replace(" ", ""), ok(0x17))
        self.assertEqual(self.sim.port(1)["baud"], 38400)
        c2.close()
        d2.close()

    def test_drop_and_stall(self):
        self.sim.ok(cmd="stall", port=1, ms=3000)
        self.c.sendall(LSTATUS)
        # stalled: the command waits unread, then is answered
        self.assertEqual(self.sim.port()["commands"], 0)
        self.assertEqual(recv_exact(self.c, 5), LSTATUS_ALL_ON)
        self.sim.ok(cmd="drop", port=1)
        expect_closed(self.c)
        expect_closed(self.d)
        self.assertIn("dropped", self.sim.port()["last_error"])


class RealComGarbage(unittest.TestCase):
    def test_random_command_bytes(self):
        """Bounded random input on both connections: the device neither crashes nor
        stops serving (the codec itself is fuzzed by tests/fuzz)."""
        rnd = random.Random(2217)
        with Sim("--echo") as sim:
            c, d = sim.realcom()
            for _ in range(300):
                c.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))))
                d.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))))
            self.assertTrue(sim.ctl(cmd="status")["ok"])
            self.assertIsNone(sim.proc.poll())
            sim.ok(cmd="drop", port=1)
            expect_closed(c)
            c, d = sim.realcom()
            c.sendall(H("2c080603010100000000"))
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON.replace(b"\x13", b"\x2c"))
            d.sendall(b"still here")
            self.assertEqual(recv_exact(d, 10), b"still here")


class RealComEcho(unittest.TestCase):
    def test_echo_bulk_keeps_moving(self):
        """8 MiB through --echo while reading it back, every byte checked.  (The
        data connection once stayed paused when the echo emptied the queue inside
        the feed; that interleaving showed in the guest benchmark, tests/vm.)"""
        data = random.Random(6150).randbytes(8 << 20)
        with Sim("--echo") as sim:
            c, d = sim.realcom()
            self.assertEqual(echo(d.fileno(), data), data)
            self.assertEqual(sim.port()["to_serial"], len(data))


class RealComBeforeData(unittest.TestCase):
    def test_commands_wait_for_the_data_connection(self):
        with Sim() as sim:
            c = sim.connect(sim.command_port())
            c.sendall(LSTATUS)
            # a round trip on the control socket: the command has not been read
            wait_for(lambda: sim.port()["commands"] == 0, "the status")
            self.assertEqual(sim.port()["commands"], 0)
            d = sim.connect(sim.data_port())
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            p = sim.port()
            self.assertTrue(p["dtr"] and p["rts"])   # first data connection raises both
            c.close()
            d.close()


class RealComPolling(unittest.TestCase):
    def test_polling_answered_then_dropped(self):
        with Sim("--poll-idle", "0.2", "--poll-interval", "0.1", "--poll-max", "3") as sim:
            c, d = sim.realcom()
            c.sendall(LSTATUS)          # no PORT_INIT yet: no polling
            recv_exact(c, 5)
            self.assertFalse(sim.port()["polling"])
            c.sendall(H("2c080603010100000000"))
            recv_exact(c, 5)
            for _ in range(3):          # answered polls keep the session
                poll = recv_exact(c, 3)
                self.assertEqual(poll[:2], H("2701"))
                c.sendall(H("2801") + poll[2:3])
            # stop answering: 3 more polls, then both connections close
            ids = []
            for _ in range(3):
                poll = recv_exact(c, 3)
                self.assertEqual(poll[:2], H("2701"))
                ids.append(poll[2])
            self.assertEqual(len(set(ids)), 3)
            expect_closed(c)
            expect_closed(d)
            p = sim.wait_port("the drop", lambda p: not p["connected"])
            self.assertIn("POLLING", p["last_error"])
            self.assertGreaterEqual(p["polls_sent"], 6)


class RealComLineRate(unittest.TestCase):
    def test_wait_oqueue_and_oqueue_with_pacing(self):
        with Sim("--line-rate", "on") as sim:
            c, d = sim.realcom()
            fd = sim.open_pty()
            try:
                # 1200 baud 8N1 = 120 bytes/s: 240 bytes take 2 s on the line
                c.sendall(H("2c08020301010000 0000".replace(" ", "")))
                recv_exact(c, 5)
                d.sendall(b"x" * 240)
                sim.wait_port("data in the queue", lambda p: p["tx_queue"] > 0)
                c.sendall(H("1600"))
                r = recv_exact(c, 4)
                self.assertEqual(r[:2], H("1602"))
                self.assertGreater(int.from_bytes(r[2:], "little"), 0)
                # a short deadline answers with what is left
                c.sendall(H("2f040a000000"))          # 10 ms, LE32
                r = recv_exact(c, 4)
                self.assertEqual(r[:2], H("2f02"))
                self.assertGreater(int.from_bytes(r[2:], "little"), 0)
                # a long one answers 0 once the line is done
                c.sendall(H("2f0430750000"))          # 30000 ms
                self.assertEqual(recv_exact(c, 4), H("2f020000"))
                self.assertEqual(read_n(fd, 240), b"x" * 240)
                # FLUSH tx drops what is queued
                d.sendall(b"y" * 240)
                sim.wait_port("data in the queue", lambda p: p["tx_queue"] > 0)
                c.sendall(H("140101"))
                self.assertEqual(recv_exact(c, 3), ok(0x14))
                c.sendall(H("1600"))
                self.assertEqual(recv_exact(c, 4), H("16020000"))
            finally:
                os.close(fd)
                c.close()
                d.close()


class RealComLayout(unittest.TestCase):
    def test_ports_17_to_32(self):
        with Sim(ports=32) as sim:
            # port 17's data and command ports are 32 above port 1's
            self.assertEqual(sim.port(17)["data_port"], sim.data_base + 32)
            self.assertEqual(sim.port(17)["command_port"], sim.command_base + 32)
            self.assertEqual(sim.port(32)["data_port"], sim.data_base + 47)
            c, d = sim.realcom(32)
            c.sendall(LSTATUS)
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            c.close()
            d.close()


class RealComReboot(unittest.TestCase):
    def test_reboot_refuses_then_accepts(self):
        with Sim() as sim:
            c, d = sim.realcom()
            sim.ok(cmd="reboot", ms=500)
            expect_closed(c)
            expect_closed(d)
            self.assertTrue(sim.ctl(cmd="status")["rebooting"])
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", sim.data_port()), timeout=5)
            wait_for(lambda: not sim.ctl(cmd="status")["rebooting"], "the reboot to end")
            c, d = sim.realcom()
            c.sendall(LSTATUS)
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            c.close()
            d.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
