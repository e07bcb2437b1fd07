#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd over a link that dies, between network namespaces
(tests/lib/netns.py): the unit (nportsim --echo) at 192.0.2.10, realcomd at
192.0.2.1, an application streaming through the tty.  The unit's link is
cut: what realcomd has sent then stays unacknowledged, TCP retransmits it for
many minutes, and realcomd must still find the session dead within about
keepalive seconds and say why.  Over RFC 2217 that takes more than an
unanswered query, which queued output may hold back: the server's TCP has to
have stopped answering too (sock_unanswered()).  With a backup_host (a
second unit at 192.0.2.11) the stream goes on over it.  Needs root; fails
(never skips) without it."""
import os
import select
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import netns  # noqa: E402
from itlib import Realcomd, Sim, open_tty, realcom_port, write_all  # noqa: E402

KEEPALIVE = 2
FOUND_WITHIN = 30.0     # seconds; TCP alone gives up after about 15 minutes


class DeadLink(unittest.TestCase):
    def setUp(self):
        self.lab = netns.Lab(timeout=120)
        self.addCleanup(self.lab.close)
        self.unit = self.lab.add("unit", "192.0.2.10/24")
        self.host = self.lab.add("host", "192.0.2.1/24")

    def keys(self, sim, host, mode):
        if mode == "realcom":
            return realcom_port(sim, host=host, keepalive=KEEPALIVE)
        return {"host": host, "protocol": "rfc2217", "tcp_port": sim.tcp_base + 1,
                "keepalive": KEEPALIVE}

    def stream_and_cut(self, d, fd, ns, done):
        """Stream through ttyR0 (the unit echoes), cut ns's link once data
        flows both ways, go on streaming until done(status); return it."""
        chunk = bytes(4096)
        cut = found = None
        next_look = 0.0
        end = time.monotonic() + FOUND_WITHIN
        while found is None and time.monotonic() < end:
            r, w, _ = select.select([fd], [fd], [], 0.1)
            if w:
                try:
                    os.write(fd, chunk)
                except BlockingIOError:
                    pass
            if r:
                os.read(fd, 65536)
            if time.monotonic() < next_look:
                continue
            next_look = time.monotonic() + 0.1
            p = d.port()
            if cut is None and p["rx_bytes"] >= 1 << 18:   # data flows both ways
                self.lab.sh("ip", "-n", ns.name, "link", "set", "eth0", "down")
                cut = time.monotonic()
                end = cut + FOUND_WITHIN
            elif cut is not None and done(p):
                found = p
        self.assertIsNotNone(cut, "the stream never got going")
        self.assertIsNotNone(found, f"not done {FOUND_WITHIN:.0f} s after the link was cut: "
                             f"{d.port()}\n{d.log_text()[-2000:]}")
        return found

    def cut_while_streaming(self, mode):
        sim = Sim("--echo", "--listen", "192.0.2.10", mode=mode, prefix=self.unit.argv([]))
        self.addCleanup(sim.close)
        d = Realcomd({0: self.keys(sim, "192.0.2.10", mode)}, prefix=self.host.argv([]))
        self.addCleanup(d.close)
        fd = open_tty(d.tty(0))
        self.addCleanup(os.close, fd)
        d.wait_state("up")
        return self.stream_and_cut(d, fd, self.unit, lambda p: p["state"] != "up")

    def test_rfc2217_with_output_queued(self):
        p = self.cut_while_streaming("rfc2217")
        self.assertEqual(p["last_error"], "no answer from the server")

    def test_realcom(self):
        p = self.cut_while_streaming("realcom")
        self.assertTrue(p["last_error"])

    def test_rfc2217_backup_takes_over(self):
        """The same cut with a backup_host: the stream goes on over the other unit."""
        other = self.lab.add("other", "192.0.2.11/24")
        a = Sim("--echo", "--listen", "192.0.2.10", mode="rfc2217", prefix=self.unit.argv([]))
        self.addCleanup(a.close)
        b = Sim("--echo", "--listen", "192.0.2.11", mode="rfc2217", prefix=other.argv([]))
        self.addCleanup(b.close)
        keys = dict(self.keys(a, "192.0.2.10", "rfc2217"), backup_host="192.0.2.11",
                    backup_tcp_port=b.tcp_base + 1)
        d = Realcomd({0: keys}, prefix=self.host.argv([]))
        self.addCleanup(d.close)
        fd = open_tty(d.tty(0))
        self.addCleanup(os.close, fd)
        self.assertEqual(d.wait_state("up")["via"], "primary")
        self.stream_and_cut(d, fd, self.unit, lambda p: p["via"] == "backup" and
                            p["state"] == "up")
        # what was in flight comes back or not; a marker written now does
        got, end = bytearray(), time.monotonic() + 10
        write_all(fd, b"over the backup")
        while not got.endswith(b"over the backup") and time.monotonic() < end:
            if select.select([fd], [], [], 0.5)[0]:
                got += os.read(fd, 65536)
        self.assertTrue(got.endswith(b"over the backup"), got[-64:])
        self.assertTrue(b.port()["connected"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
