#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nportsim's TLS modes: "on" (both Real COM connections), "data-only" (the
legacy layout), a required client certificate (the G2's "encrypted and
authenticated" mode), the refuse-TLS fault, and RFC 2217 over TLS.
Certificates are made fresh by tests/lib/mkcerts.sh ($MKCERTS)."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from simlib import Sim, Certs, expect_closed, read_n, recv_exact  # noqa: E402

H = bytes.fromhex
LSTATUS_ALL_ON = H("1303010101")
CERTS = Certs()
setUpModule = CERTS.setup
tearDownModule = CERTS.teardown
cert = CERTS.path


def client(certname=None):
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    if certname:
        ctx.load_cert_chain(cert(certname + ".pem"), cert(certname + ".key"))
    return lambda s: ctx.wrap_socket(s, server_hostname="localhost")


def server_args(*extra):
    return ("--cert", cert("server.pem"), "--key", cert("server.key"), *extra)


class TlsModes(unittest.TestCase):
    def test_on_both_connections(self):
        with Sim("--tls", "on", *server_args()) as sim:
            c, d = sim.realcom(wrap_cmd=client(), wrap_data=client())
            self.assertEqual(c.version(), "TLSv1.3")
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            d.sendall(b"over tls")
            fd = sim.open_pty()
            try:
                self.assertEqual(read_n(fd, 8), b"over tls")
            finally:
                os.close(fd)

    def test_on_refuses_plain_command(self):
        with Sim("--tls", "on", *server_args()) as sim:
            c = sim.connect(sim.command_port())
            c.sendall(H("1300") * 8)       # not a TLS ClientHello: the handshake fails
            expect_closed(c)

    def test_data_only(self):
        with Sim("--tls", "data-only", *server_args()) as sim:
            c, d = sim.realcom(wrap_data=client())
            c.sendall(H("1300"))           # the command connection stays plain
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            self.assertIsInstance(d, ssl.SSLSocket)

    def test_client_certificate_required(self):
        with Sim("--tls", "on", *server_args("--client-ca", cert("ca.pem"))) as sim:
            # without a certificate, then with one from another CA: refused
            for who in (None, "rogue-client"):
                s = socket.create_connection(("127.0.0.1", sim.command_port()), timeout=10)
                try:
                    c = client(who)(s)
                    c.sendall(H("1300"))
                    expect_closed(c)       # TLS 1.3 reports the refusal after the handshake
                except (ssl.SSLError, ConnectionResetError):
                    pass
                finally:
                    s.close()
            self.assertEqual(sim.port()["sessions"], 0)
            c, d = sim.realcom(wrap_cmd=client("client"), wrap_data=client("client"))
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)

    def test_refuse_tls_fault(self):
        with Sim("--tls", "data-only", *server_args()) as sim:
            sim.ok(cmd="refuse-tls", count=1)
            c = sim.connect(sim.command_port())
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                sim.connect(sim.data_port(), client())
            d = sim.connect(sim.data_port(), client())   # the next one is served
            sim.wait_port("the data connection", lambda p: p["connected"])
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), LSTATUS_ALL_ON)
            d.close()

    def test_rfc2217_over_tls(self):
        with Sim("--tls", "on", *server_args(), mode="rfc2217") as sim:
            t = sim.connect(sim.tcp_base + 1, client())
            # the server opens the negotiation: IAC DO COM-PORT-OPTION first
            self.assertEqual(recv_exact(t, 3), H("fffd2c"))


class TlsOptions(unittest.TestCase):
    def run_sim(self, *args):
        return subprocess.run([os.environ["NPORTSIM"], *args], capture_output=True, text=True,
                              timeout=10)

    def test_usage_errors(self):
        r = self.run_sim("--tls", "on")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tls on needs --cert and --key", r.stderr)
        r = self.run_sim("--client-ca", "x.pem")
        self.assertEqual(r.returncode, 2)
        r = self.run_sim("--tls", "maybe")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected off, data-only or on", r.stderr)

    def test_bad_key(self):
        d = tempfile.mkdtemp()
        try:
            r = self.run_sim("--tls", "on", "--cert", cert("server.pem"), "--key",
                             cert("client.key"), "--pty-dir", d, "--data-base", "1",
                             "--command-base", "1")
            self.assertEqual(r.returncode, 1)
            self.assertIn("does not match the certificate", r.stderr)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
