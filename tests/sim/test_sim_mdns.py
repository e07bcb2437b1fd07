#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nportsim's mDNS announcement between network namespaces (tests/lib/netns.py):
a factory unit at 192.0.2.10 and a host at 192.0.2.1, each with its own
avahi-daemon.  The host resolves the unit's _nport._tcp record with the TXT
keys of docs/device-model.md; after the first administrator is created over REST the
TXT record says state=ready.  Needs root; fails (never skips) without it."""
import functools
import os
import sys
import shutil
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from netns import Lab  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
import simlib  # noqa: E402

NPORTSIM = os.environ.get("NPORTSIM", "nportsim")
DEADLINE = 30.0
# avahi between namespaces is slower than loopback: longer waits, fewer polls
wait_for = functools.partial(simlib.wait_for, timeout=DEADLINE, interval=0.2)

# The REST client runs inside the host's namespace.
SETUP = r"""
import http.client, json, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection(sys.argv[1], 443, timeout=10, context=ctx)
c.request("POST", "/api/v1/setup/account",
          json.dumps({"username": "admin", "password": "correct-horse-1"}),
          {"Content-Type": "application/json"})
r = c.getresponse()
print(r.status, r.read().decode())
"""


def browse(host):
    """{instance name: (address, port, {txt key: value})} resolved on the host."""
    r = host.run(["avahi-browse", "-rpt", "_nport._tcp"], timeout=DEADLINE)
    found = {}
    for line in r.stdout.splitlines():
        f = line.split(";")
        if f[0] != "=" or f[2] != "IPv4" or len(f) < 10:
            continue
        txt = {}
        for item in f[9].split('" "'):
            k, _, v = item.strip('"').partition("=")
            txt[k] = v
        found[f[3]] = (f[7], int(f[8]), txt)
    return found


class Mdns(unittest.TestCase):
    def setUp(self):
        self.lab = Lab()
        self.addCleanup(self.lab.close)
        self.dir = tempfile.mkdtemp(prefix="nportsim-mdns-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.dev = self.lab.add("dev", "192.0.2.10/24")
        self.host = self.lab.add("host", "192.0.2.1/24")
        self.dev.start_avahi()
        self.host.start_avahi()

    def start_unit(self, ns, *args):
        d = os.path.join(self.dir, ns.name)
        os.mkdir(d)
        log_path = os.path.join(d, "nportsim.log")
        with open(log_path, "w") as log:
            ns.popen([NPORTSIM, "--listen", ns.ip, "--https-port", "443", "--pty-dir", d,
                      "--control", os.path.join(d, "ctl"), *args], stdout=log, stderr=log)

        def read_log():
            with open(log_path) as f:
                return f.read()
        self.log = read_log
        wait_for(lambda: "nportsim: ready\n" in read_log() or "failed" in read_log(),
                 "nportsim to start")

    def test_announce_and_state_change(self):
        self.start_unit(self.dev, "--factory", "--mdns")
        try:
            rec = wait_for(lambda: browse(self.host), "the unit's record on the host")
            self.assertEqual(len(rec), 1, rec)
            name, (addr, port, txt) = next(iter(rec.items()))
            self.assertEqual((addr, port), ("192.0.2.10", 443))
            mac = txt["mac"]
            self.assertTrue(mac.startswith("00:90:E8:"), txt)
            self.assertEqual(name, "NPort-6150-" + mac[9:].replace(":", ""))
            self.assertEqual({k: txt[k] for k in ("vendor", "model", "fw", "state", "api")},
                             {"vendor": "Moxa", "model": "NPort 6150-G2", "fw": "1.1",
                              "state": "needs-setup", "api": "/api/v1"})
            self.assertTrue(txt["serial"])

            r = self.host.run(["/usr/bin/python3", "-c", SETUP, "192.0.2.10"], timeout=DEADLINE)
            self.assertTrue(r.stdout.startswith("201 "), r.stdout + r.stderr)

            def ready():
                rec = browse(self.host).get(name)
                return rec and rec[2]["state"] == "ready"
            wait_for(ready, "TXT state=ready on the host")
        except AssertionError:
            print(f"nportsim log:\n{self.log()}\navahi logs: {self.dev.log_path()} "
                  f"{self.host.log_path()}")
            raise

    def test_two_units_and_a_late_daemon(self):
        # a second unit whose avahi-daemon starts only after nportsim
        dev2 = self.lab.add("dev2", "192.0.2.11/24")
        self.start_unit(self.dev, "--mdns")
        log1 = self.log
        self.start_unit(dev2, "--mdns", "--name", "bench-unit", "--model", "NPort 6250-G2")
        wait_for(lambda: "mdns: " in self.log(), "nportsim to warn about the missing daemon")
        self.assertIn("ready", self.log())
        dev2.start_avahi()
        rec = wait_for(lambda: (lambda b: len(b) == 2 and b)(browse(self.host)),
                       "both units on the host")
        unit2 = rec["bench-unit"]
        self.assertEqual((unit2[0], unit2[2]["model"], unit2[2]["state"]),
                         ("192.0.2.11", "NPort 6250-G2", "ready"))
        (name1, unit1), = [(k, v) for k, v in rec.items() if k != "bench-unit"]
        self.assertEqual(unit1[0], "192.0.2.10")
        self.assertNotEqual(unit1[2]["mac"], unit2[2]["mac"])
        self.assertIn("mdns: announced", log1())


if __name__ == "__main__":
    unittest.main(verbosity=2)
