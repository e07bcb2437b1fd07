#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd over TLS against nportsim: both connections or the legacy
data-only layout, a client certificate, and every rejection: wrong CA,
expired, wrong host, pin mismatch, missing client certificate.  The
certificates are made at test time by tests/lib/mkcerts.sh."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import Realcomd, Sim, Certs, open_tty, realcom_port, wait_for  # noqa: E402

CERTS = Certs()
setUpModule = CERTS.setup
tearDownModule = CERTS.teardown
cert = CERTS.path


def fingerprint(name):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                          cert(name)], capture_output=True, text=True, check=True).stdout
    return "sha256:" + out.strip().split("=", 1)[1]


def sim_args(server="server", *extra):
    return ("--cert", cert(server + ".pem"), "--key", cert(server + ".key"), *extra)


class Tls(unittest.TestCase):
    def connect(self, sim_tls, port_keys, server="server", sim_extra=()):
        """Start both, open ttyR0; returns (sim, daemon, fd) with cleanups registered."""
        sim = Sim("--echo", "--tls", sim_tls, *sim_args(server, *sim_extra))
        self.addCleanup(sim.close)
        d = Realcomd({0: realcom_port(sim, **port_keys)})
        self.addCleanup(d.close)
        fd = open_tty(d.tty(0))
        self.addCleanup(os.close, fd)
        return sim, d, fd

    def expect_up(self, d, fd):
        p = d.wait_state("up")
        os.write(fd, b"ping")
        got = wait_for(lambda: d.port()["rx_bytes"] >= 4, "the echo")
        self.assertTrue(got)
        return p

    def expect_refused(self, d, words):
        p = wait_for(lambda: (lambda p: p if p["last_error"] else None)(d.port()),
                     "the connection to fail")
        self.assertIn(words, p["last_error"])
        self.assertNotEqual(p["state"], "up")
        self.assertEqual(p["connects"], 0)
        return p

    def test_on_verified_by_ca(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("ca.pem")})
        p = self.expect_up(d, fd)
        self.assertIn("TLSv1.3", p["tls_info"])
        self.assertIn("verified by CA", p["tls_info"])
        self.assertNotIn("not encrypted", p["tls_info"])

    def test_data_only(self):
        sim, d, fd = self.connect("data-only", {"tls": "data-only", "tls_ca": cert("ca.pem")})
        p = self.expect_up(d, fd)
        self.assertIn("command connection not encrypted", p["tls_info"])

    def test_client_certificate(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("ca.pem"),
                                         "tls_cert": cert("client.pem"),
                                         "tls_key": cert("client.key")},
                                  sim_extra=("--client-ca", cert("ca.pem")))
        self.expect_up(d, fd)

    def test_client_certificate_missing(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("ca.pem")},
                                  sim_extra=("--client-ca", cert("ca.pem")))
        wait_for(lambda: d.port()["last_error"], "the device to refuse us")
        self.assertEqual(sim.port()["sessions"], 0)
        self.assertNotEqual(d.port()["state"], "up")

    def test_wrong_ca(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("other-ca.pem")})
        self.expect_refused(d, "certificate verification failed: unable to get local issuer")

    def test_expired(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("ca.pem")}, "expired")
        self.expect_refused(d, "certificate has expired")

    def test_wrong_host(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_ca": cert("ca.pem")}, "wronghost")
        self.expect_refused(d, "IP address mismatch")

    def test_pin_match_self_signed(self):
        sim, d, fd = self.connect("on", {"tls": "on",
                                         "tls_fingerprint": fingerprint("selfsigned.pem")},
                                  "selfsigned")
        p = self.expect_up(d, fd)
        self.assertIn("verified by pin", p["tls_info"])

    def test_pin_mismatch(self):
        sim, d, fd = self.connect("on", {"tls": "on",
                                         "tls_fingerprint": fingerprint("server.pem")},
                                  "selfsigned")
        p = self.expect_refused(d, "is not the pinned one")
        self.assertIn(fingerprint("selfsigned.pem"), p["last_error"])

    def test_verify_off_is_loud(self):
        sim, d, fd = self.connect("on", {"tls": "on", "tls_verify": "off"}, "selfsigned")
        p = self.expect_up(d, fd)
        self.assertIn("not verified", p["tls_info"])
        self.assertIn("tls_verify = off", d.log_text())

    def test_refused_handshake_then_recovers(self):
        sim = Sim("--echo", "--tls", "on", *sim_args())
        self.addCleanup(sim.close)
        sim.ok(cmd="refuse-tls", count=2)
        d = Realcomd({0: realcom_port(sim, tls="on", tls_ca=cert("ca.pem"))})
        self.addCleanup(d.close)
        fd = open_tty(d.tty(0))
        self.addCleanup(os.close, fd)
        self.expect_up(d, fd)
        self.assertGreaterEqual(sim.port()["sessions"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
