#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nportsim's management API (docs/device-model.md, "REST over HTTPS"):
a factory unit's set-up, logins, the lockout, tokens, groups, every settings
endpoint, input checks (control characters, malformed JSON, body bound), the
ports it switches and the certificate it serves.  HTTPS on 127.0.0.1 only;
the test is the client and accepts the unit's self-signed certificate."""
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import simlib  # noqa: E402
from simlib import expect_closed, read_n, recv_exact, unverified, wait_for  # noqa: E402

H = bytes.fromhex
ADMIN_PW = "correct-horse-1"


class Unit(simlib.Unit):
    """A simulated unit, its administrator admin with ADMIN_PW."""

    def login(self, user="admin", password=ADMIN_PW):
        return super().login(user, password)

    def setup(self):
        st, b, _ = self.request("POST", "setup/account", {"username": "admin",
                                                          "password": ADMIN_PW})
        if st != 201:
            raise AssertionError(f"setup: {st} {b}")
        return self.login()

    def refuses(self, port):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        finally:
            s.close()
        return False


def accounts_file(text, mode=0o600):
    fd, path = tempfile.mkstemp(prefix="nportsim-accounts-")
    os.write(fd, text.encode())
    os.close(fd)
    os.chmod(path, mode)
    return path


class Factory(unittest.TestCase):
    def test_new_unit_then_setup(self):
        with Unit("--factory", ports=2) as u:
            st, dev, _ = u.request("GET", "device")
            self.assertEqual(st, 200)
            self.assertEqual(dev["state"], "needs-setup")
            self.assertEqual(dev["model"], "NPort 6150-G2")
            self.assertEqual(dev["firmware"], "1.1")
            self.assertEqual(dev["ports"], 2)
            self.assertTrue(dev["mac"].startswith("00:90:E8:"), dev["mac"])
            self.assertEqual(dev["name"], "NPort-6150-" + dev["mac"][9:].replace(":", ""))
            # serial ports stay disabled: nothing listens
            for n in (1, 2):
                self.assertTrue(u.refuses(u.data_port(n)))
                self.assertTrue(u.refuses(u.command_port(n)))
            self.assertEqual(u.request("GET", "serial/ports")[0], 401)
            status = u.ok(cmd="status")
            self.assertEqual(status["management"]["state"], "needs-setup")
            self.assertEqual(status["management"]["accounts"], 0)
            self.assertEqual([p["mode"] for p in status["ports"]], ["disabled"] * 2)

            # the default policy applies to the first account too
            st, b, _ = u.request("POST", "setup/account", {"username": "admin",
                                                           "password": "short"})
            self.assertEqual(st, 422)
            self.assertEqual(b["rule"], "min_length")
            self.assertIn("min_length", b["message"])
            st, b, _ = u.request("POST", "setup/account", {"username": "ad min",
                                                           "password": ADMIN_PW})
            self.assertEqual((st, b["rule"]), (422, "username"))
            st, b, _ = u.request("POST", "setup/account", {"username": "admin"})
            self.assertEqual((st, b["error"]), (422, "missing_field"))
            self.assertEqual(u.request("GET", "device")[1]["state"], "needs-setup")

            token = u.setup()
            st, b, _ = u.request("POST", "setup/account", {"username": "second",
                                                           "password": ADMIN_PW})
            self.assertEqual((st, b["error"]), (409, "already_set_up"))
            self.assertEqual(u.request("GET", "device")[1]["state"], "ready")
            st, ports, _ = u.request("GET", "serial/ports", token=token)
            self.assertEqual(st, 200)
            self.assertEqual([p["mode"] for p in ports], ["realcom", "realcom"])
            self.assertEqual(ports[1]["data_port"], u.data_port(2))
            self.assertEqual(ports[1]["command_port"], u.command_port(2))
            self.assertEqual(ports[0]["connection"], "unencrypted")

            # Real COM now works on every port
            c, d = u.realcom(2)
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))
            d.sendall(b"after setup")
            fd = u.open_pty(2)
            try:
                self.assertEqual(read_n(fd, 11), b"after setup")
            finally:
                os.close(fd)
            mgmt = u.ok(cmd="status")["management"]
            self.assertEqual((mgmt["state"], mgmt["accounts"]), ("ready", 1))
            self.assertEqual(mgmt["users"], [{"username": "admin", "group": "admin"}])
            self.assertNotIn(ADMIN_PW, json.dumps(mgmt))
            self.assertNotIn(ADMIN_PW, u.log_text())

    def test_reboot_fault_keeps_working(self):
        with Unit("--factory") as u:
            u.ok(cmd="reboot", ms=50)
            wait_for(lambda: not u.ok(cmd="status")["rebooting"], "the reboot to end")
            self.assertTrue(u.refuses(u.data_port()))     # still disabled
            u.setup()
            u.ok(cmd="reboot", ms=50)
            wait_for(lambda: not u.ok(cmd="status")["rebooting"], "the reboot to end")
            c, d = u.realcom()
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))

    def test_without_factory_behaves_as_before(self):
        with Unit() as u:
            self.assertEqual(u.request("GET", "device")[1]["state"], "ready")
            c, d = u.realcom()
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))


class Login(unittest.TestCase):
    def test_lockout_and_unlock(self):
        with Unit("--factory", "--lockout-failures", "3", "--lockout-seconds", "2") as u:
            u.setup()
            bad = {"username": "admin", "password": "wrong password"}
            for _ in range(3):
                self.assertEqual(u.request("POST", "auth/login", bad)[0], 401)
            st, b, _ = u.request("POST", "auth/login", {"username": "admin",
                                                        "password": ADMIN_PW})
            self.assertEqual(st, 423)       # even the right password, while locked
            self.assertIsInstance(b["retry_after"], int)
            self.assertTrue(1 <= b["retry_after"] <= 2, b)
            lk = u.ok(cmd="status")["management"]["lockout"]
            self.assertEqual([e["username"] for e in lk["locked"]], ["admin"])
            # another user name is not locked
            self.assertEqual(u.request("POST", "auth/login", {"username": "other",
                                                              "password": "x"})[0], 401)

            def unlocked():
                st, _, _ = u.request("POST", "auth/login", {"username": "admin",
                                                            "password": ADMIN_PW})
                return st == 200 or (st != 423 and self.fail(f"login answered {st}"))
            wait_for(unlocked, "the lockout to end", timeout=15)

    def test_tokens(self):
        with Unit("--factory") as u:
            token = u.setup()
            self.assertEqual(u.request("GET", "serial/ports")[0], 401)
            self.assertEqual(u.request("GET", "serial/ports", token="0" * 64)[0], 401)
            self.assertEqual(u.request("GET", "serial/ports", token="nonsense")[0], 401)
            st, b, _ = u.request("GET", "serial/ports", headers={"Authorization": "Basic x"})
            self.assertEqual((st, b["error"]), (401, "unauthorized"))
            self.assertEqual(len(token), 64)
            self.assertNotEqual(token, u.login())       # random per login
            st, b, _ = u.request("POST", "auth/login", {"username": "admin",
                                                        "password": ADMIN_PW})
            self.assertEqual(b["expires_in"], 900)
            self.assertEqual(u.request("GET", "serial/ports", token=token)[0], 200)
            st, b, _ = u.request("POST", "auth/logout", token=token)
            self.assertEqual((st, b), (204, None))
            self.assertEqual(u.request("GET", "serial/ports", token=token)[0], 401)
            self.assertEqual(u.request("POST", "auth/logout", token=token)[0], 401)

    def test_web_session_limit(self):
        """max_sessions open at most; a login beyond them ends the oldest."""
        with Unit("--factory") as u:
            first = u.setup()
            st, b, _ = u.request("PUT", "security/web-sessions", {"max_sessions": 2},
                                 token=first)
            self.assertEqual(st, 200, b)
            second = u.login()
            self.assertEqual(u.ok(cmd="status")["management"]["sessions"], 2)
            third = u.login()
            self.assertEqual(u.request("GET", "serial/ports", token=first)[0], 401)
            for t in (second, third):
                self.assertEqual(u.request("GET", "serial/ports", token=t)[0], 200)
            self.assertEqual(u.ok(cmd="status")["management"]["sessions"], 2)
            # a logout frees its place: no one else is ended
            self.assertEqual(u.request("POST", "auth/logout", token=third)[0], 204)
            fourth = u.login()
            for t in (second, fourth):
                self.assertEqual(u.request("GET", "serial/ports", token=t)[0], 200)

    def test_operator_forbidden_on_admin_writes(self):
        path = accounts_file("# test accounts\nboss:boss-password:admin\n"
                             "op:op-password:operator\n")
        try:
            with Unit("--accounts", path) as u:
                self.assertEqual(u.request("GET", "device")[1]["state"], "ready")
                op = u.login("op", "op-password")
                boss = u.login("boss", "boss-password")
                self.assertEqual(u.request("GET", "serial/ports", token=op)[0], 200)
                self.assertEqual(u.request("GET", "security/certificate", token=op)[0], 200)
                self.assertEqual(u.request("GET", "network/ipv4", token=op)[0], 200)
                for method, path_, body in (
                        ("PUT", "serial/ports/1", {"mode": "disabled"}),
                        ("PUT", "network/ipv4", {"mode": "dhcp"}),
                        ("PUT", "security/services", {"snmp": True}),
                        ("PUT", "security/password-policy", {"min_length": 4}),
                        ("PUT", "security/login-lockout", {"enabled": False}),
                        ("PUT", "security/allowlist", {"enabled": True}),
                        ("PUT", "system/syslog", {"remote": []}),
                        ("POST", "security/remote-ca", {"pem": "x"}),
                        ("GET", "security/services", None),
                        ("PUT", "system/sntp", {"enabled": True}),
                        ("GET", "system/sntp", None),
                        ("PUT", "security/dos-defense", {"enabled": False}),
                        ("GET", "security/dos-defense", None),
                        ("PUT", "security/web-sessions", {"max_sessions": 1}),
                        ("GET", "security/web-sessions", None),
                        ("PUT", "security/login-message", {"text": "x"}),
                        ("GET", "security/login-message", None)):
                    st, b, _ = u.request(method, path_, body, token=op)
                    self.assertEqual((st, b["error"]), (403, "forbidden"), path_)
                self.assertEqual(u.request("GET", "serial/ports/1", token=op)[1]["mode"],
                                 "realcom")
                self.assertEqual(u.request("PUT", "network/ipv4", {"mode": "dhcp"},
                                           token=boss)[0], 200)
                self.assertEqual(u.ok(cmd="status")["management"]["accounts"], 2)
        finally:
            os.unlink(path)

    def test_accounts_file_must_be_private(self):
        path = accounts_file("a:secret-pw:admin\n", 0o644)
        try:
            r = subprocess.run([os.environ["NPORTSIM"], "--accounts", path, "--https-port", "0",
                                "--no-mdns"], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn("readable by others", r.stderr)
            self.assertNotIn("secret-pw", r.stderr)
        finally:
            os.unlink(path)

    def test_option_errors(self):
        r = subprocess.run([os.environ["NPORTSIM"], "--factory", "--accounts", "x"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([os.environ["NPORTSIM"], "--mac", "00:90:E8:1", "--https-port", "0",
                            "--no-mdns"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--mac", r.stderr)


class Inputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.u = Unit("--factory")
        cls.token = cls.u.setup()

    @classmethod
    def tearDownClass(cls):
        cls.u.close()

    def expect(self, want, method, path, body=None, raw=None, error=None):
        st, b, r = self.u.request(method, path, body, token=self.token, raw=raw)
        self.assertEqual(st, want, f"{method} {path}: {b}")
        if error:
            self.assertEqual(b["error"], error)
        if st >= 400:
            self.assertEqual(set(b), {"error", "message"} | ({"rule"} if "rule" in b else set())
                             | ({"retry_after"} if "retry_after" in b else set()))
        return b, r

    def test_control_characters(self):
        self.expect(400, "POST", "auth/login", raw=b'{"username":"ad\x00min","password":"x"}',
                    error="control_character")
        self.expect(400, "POST", "auth/login", raw=b'{"username":"ad\\u0000min","password":"x"}',
                    error="control_character")
        self.expect(400, "POST", "auth/login", raw=b'{"username":"a\\u001bb","password":"x"}',
                    error="control_character")
        self.expect(400, "PUT", "network/ipv4", raw=b'{"mode":"dhcp\x01"}',
                    error="control_character")
        self.expect(400, "GET", "/api/v1/dev%00ice", error="control_character")
        self.expect(400, "GET", "/api/v1/device%0a", error="control_character")
        self.assertEqual(self.u.request("GET", "device")[0], 200)   # still alive

    def test_malformed_json(self):
        for raw in (b"", b"{", b"[1,2]", b'{"username": "a", "password": "b"} x', b"\xff\xfe",
                    b'{"a":' * 40 + b"1" + b"}" * 40):
            b, _ = self.expect(400, "POST", "auth/login", raw=raw)
            self.assertIn(b["error"], ("bad_json", "bad_request"), raw)

    def test_body_bound(self):
        big = json.dumps({"username": "a" * 17000, "password": "x"}).encode()
        self.expect(400, "POST", "auth/login", raw=big, error="too_large")
        self.expect(200, "GET", "device")

    def test_not_found_and_method(self):
        self.expect(404, "GET", "nothing", error="not_found")
        self.expect(404, "GET", "/", error="not_found")
        self.expect(404, "GET", "serial/ports/9", error="not_found")
        self.expect(404, "GET", "device/", error="not_found")
        _, r = self.expect(405, "DELETE", "device", error="method_not_allowed")
        self.assertEqual(r.getheader("Allow"), "GET")
        _, r = self.expect(405, "POST", "network/ipv4", {}, error="method_not_allowed")
        self.assertEqual(r.getheader("Allow"), "GET, PUT")

    def test_stored_settings(self):
        b, _ = self.expect(200, "GET", "network/ipv4")
        self.assertEqual(b["address"], "127.0.0.1")
        self.expect(422, "PUT", "network/ipv4", {"address": "300.1.1.1"}, error="invalid_address")
        self.expect(422, "PUT", "network/ipv4", {"mode": "static"}, error="invalid_value")
        self.expect(422, "PUT", "network/ipv4", {"color": "red"}, error="unknown_field")
        self.expect(422, "PUT", "network/ipv4", {"mode": 1}, error="invalid_type")
        b, _ = self.expect(200, "PUT", "network/ipv4", {"address": "192.0.2.10", "gateway": ""})
        self.assertEqual((b["address"], b["mode"]), ("192.0.2.10", "manual"))
        b, _ = self.expect(200, "GET", "security/services")
        self.assertEqual(b, {"snmp": False, "wins": False, "moxa_service": True, "https": True,
                             "serial_console": True})
        b, _ = self.expect(200, "PUT", "security/services", {"snmp": True})
        self.assertTrue(b["snmp"])
        self.expect(422, "PUT", "security/services", {"snmp": "yes"}, error="invalid_type")
        entry = {"address": "192.0.2.0", "netmask": "255.255.255.0"}
        b, _ = self.expect(200, "PUT", "security/allowlist", {"enabled": True, "entries": [entry]})
        self.assertEqual(b["entries"], [entry])
        self.expect(422, "PUT", "security/allowlist", {"entries": [entry] * 17}, error="too_many")
        self.expect(422, "PUT", "security/allowlist", {"entries": [{"address": "192.0.2.1"}]},
                    error="missing_field")
        b, _ = self.expect(200, "PUT", "system/syslog",
                           {"remote": [{"address": "192.0.2.5", "port": 6514, "tls": True}]})
        self.assertEqual(b["remote"][0]["port"], 6514)
        self.expect(422, "PUT", "system/syslog", {"remote": [{"address": "192.0.2.5",
                                                              "port": 0}]},
                    error="out_of_range")
        self.assertEqual(self.expect(200, "GET", "system/syslog")[0]["remote"][0]["tls"], True)

    def test_guide_settings(self):
        """SNTP, DoS defense, web sessions and the login message (the model's
        additions): the guide's defaults, partial updates, bounds."""
        self.assertEqual(self.expect(200, "GET", "system/sntp")[0],
                         {"enabled": False, "servers": []})
        servers = ["ntp.example.org", "192.0.2.1", "fd00::1"]
        b, _ = self.expect(200, "PUT", "system/sntp", {"enabled": True, "servers": servers})
        self.assertEqual(b, {"enabled": True, "servers": servers})
        self.expect(422, "PUT", "system/sntp", {"servers": ["a b"]}, error="invalid_address")
        self.expect(422, "PUT", "system/sntp", {"servers": [""]}, error="invalid_address")
        self.expect(422, "PUT", "system/sntp", {"servers": [1]}, error="invalid_type")
        self.expect(422, "PUT", "system/sntp", {"servers": ["x"] * 5}, error="too_many")
        self.expect(400, "PUT", "system/sntp", {"servers": ["x\u0000y"]},
                    error="control_character")
        self.assertEqual(self.expect(200, "GET", "security/dos-defense")[0], {"enabled": True})
        self.assertEqual(self.expect(200, "PUT", "security/dos-defense", {"enabled": False})[0],
                         {"enabled": False})
        self.expect(422, "PUT", "security/dos-defense", {"enabled": "no"}, error="invalid_type")
        self.assertEqual(self.expect(200, "GET", "security/web-sessions")[0],
                         {"max_sessions": 10})
        self.assertEqual(self.expect(200, "PUT", "security/web-sessions", {"max_sessions": 4})[0],
                         {"max_sessions": 4})
        for n in (0, 11):
            self.expect(422, "PUT", "security/web-sessions", {"max_sessions": n},
                        error="out_of_range")
        self.assertEqual(self.expect(200, "GET", "security/login-message")[0], {"text": ""})
        b, _ = self.expect(200, "PUT", "security/login-message", {"text": "Authorised use only"})
        self.assertEqual(b, {"text": "Authorised use only"})
        self.expect(422, "PUT", "security/login-message", {"text": "x" * 257}, error="length")
        self.expect(422, "PUT", "security/login-message", {}, error="missing_field")
        self.expect(400, "PUT", "security/login-message", {"text": "a\u001b[2J"},
                    error="control_character")
        self.assertEqual(self.expect(200, "GET", "security/login-message")[0]["text"],
                         "Authorised use only")

    def test_policy_and_lockout_settings(self):
        b, _ = self.expect(200, "GET", "security/password-policy")
        self.assertEqual(b, {"min_length": 8, "digit": False, "mixed_case": False,
                             "special": False, "lifetime_days": 0})
        b, _ = self.expect(200, "GET", "security/login-lockout")
        self.assertEqual((b["enabled"], b["max_failures"], b["lockout_minutes"]), (True, 5, 5))
        self.expect(422, "PUT", "security/login-lockout", {"max_failures": 0},
                    error="out_of_range")
        b, _ = self.expect(200, "PUT", "security/login-lockout", {"lockout_minutes": 10})
        self.assertEqual((b["lockout_minutes"], b["lockout_seconds"]), (10, 600))
        b, _ = self.expect(200, "PUT", "security/password-policy", {"min_length": 16})
        self.assertEqual(b["min_length"], 16)
        self.expect(200, "PUT", "security/password-policy", {"min_length": 8})

    def test_certificate_matches_handshake(self):
        b, _ = self.expect(200, "GET", "security/certificate")
        self.assertRegex(b["sha256"], r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
        with socket.create_connection(("127.0.0.1", self.u.https_port), timeout=10) as s:
            with unverified().wrap_socket(s) as t:
                der = t.getpeercert(binary_form=True)
                self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(b["sha256"], sha256_text(der))
        self.assertEqual(ssl.PEM_cert_to_DER_cert(b["pem"]), der)
        self.assertEqual(self.u.ok(cmd="status")["management"]["certificate_sha256"],
                         b["sha256"])
        # the unit's certificate doubles as a CA upload, shown by its fingerprint
        self.assertEqual(self.expect(200, "GET", "security/remote-ca")[0], {"sha256": ""})
        b2, _ = self.expect(201, "POST", "security/remote-ca", {"pem": b["pem"]})
        self.assertEqual(b2["sha256"], b["sha256"])
        self.assertEqual(self.expect(200, "GET", "security/remote-ca")[0],
                         {"sha256": b["sha256"]})
        self.expect(422, "POST", "security/remote-ca", {"pem": "-----BEGIN nothing"},
                    error="invalid_certificate")


class Ports(unittest.TestCase):
    def test_switch_modes_and_tls(self):
        with Unit("--factory", ports=2) as u:
            token = u.setup()

            def put(n, body):
                return u.request("PUT", f"serial/ports/{n}", body, token=token)
            st, b, _ = put(1, {"mode": "disabled"})
            self.assertEqual((st, b["mode"]), (200, "disabled"))
            self.assertTrue(u.refuses(u.data_port(1)))
            self.assertTrue(u.refuses(u.command_port(1)))
            # Sim's RFC 2217 ports share its base with the data ports: port 2's is free
            st, b, _ = put(2, {"mode": "rfc2217"})
            self.assertEqual((st, b["mode"], b["tcp_port"]), (200, "rfc2217", u.tcp_base + 2))
            self.assertTrue(u.refuses(u.data_port(2)))
            t = u.connect(u.tcp_base + 2)
            self.assertEqual(recv_exact(t, 3), H("fffd2c"))   # IAC DO COM-PORT-OPTION
            self.assertEqual(u.port(2)["mode"], "rfc2217")
            st, b, _ = put(1, {"mode": "tcp-server"})
            self.assertEqual((st, b["error"]), (422, "unsupported"))
            st, b, _ = put(1, {"mode": "realcom", "connection": "encrypted"})
            self.assertEqual((st, b["mode"], b["connection"]), (200, "realcom", "encrypted"))
            wrap = unverified().wrap_socket
            c, d = u.realcom(1, wrap_cmd=wrap, wrap_data=wrap)
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))
            st, b, _ = put(1, {"connection": "encrypted-authenticated"})
            self.assertEqual((st, b["error"]), (422, "unsupported"))
            st, b, _ = put(1, {"connection": "unencrypted"})
            self.assertEqual(b["connection"], "unencrypted")
            c, d = u.realcom(1)
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))
            self.assertEqual(put(3, {"mode": "realcom"})[0], 404)
            self.assertEqual(put(1, {"mode": "serial"})[0], 422)


class Config(unittest.TestCase):
    """GET/PUT /system/config: an export carries identity, time and every
    setting but no account; an import applies settings, never identity, and
    refuses another model."""

    def test_export_and_import(self):
        path = accounts_file("boss:boss-password:admin\nop:op-password:operator\n")
        try:
            with Unit("--accounts", path, ports=2) as u:
                boss = u.login("boss", "boss-password")
                st, b, _ = u.request("PUT", "security/services", {"snmp": True}, token=boss)
                self.assertEqual(st, 200, b)
                st, b, _ = u.request("PUT", "serial/ports/2", {"mode": "disabled"}, token=boss)
                self.assertEqual(st, 200, b)
                st, b, _ = u.request("PUT", "system/sntp",
                                     {"enabled": True, "servers": ["192.0.2.123"]}, token=boss)
                self.assertEqual(st, 200, b)
                st, exp, r = u.request("GET", "system/config", token=boss)
                self.assertEqual(st, 200, exp)
                dev = u.request("GET", "device")[1]
                self.assertEqual((exp["model"], exp["mac"], exp["serial"], exp["firmware"]),
                                 (dev["model"], dev["mac"], dev["serial"], dev["firmware"]))
                self.assertRegex(exp["exported_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                settings = exp["settings"]
                self.assertEqual(set(settings), {"name", "network", "services",
                                                 "password_policy", "login_lockout",
                                                 "allowlist", "syslog", "sntp", "dos_defense",
                                                 "web_sessions", "login_message",
                                                 "serial_ports"})
                self.assertEqual(settings["sntp"], {"enabled": True, "servers": ["192.0.2.123"]})
                self.assertTrue(settings["services"]["snmp"])
                self.assertEqual([(p["port"], p["mode"]) for p in settings["serial_ports"]],
                                 [(1, "realcom"), (2, "disabled")])
                text = json.dumps(exp)
                for secret in ("boss-password", "op-password", "boss", "\"op\""):
                    self.assertNotIn(secret, text)
                op = u.login("op", "op-password")
                self.assertEqual(u.request("GET", "system/config", token=op)[0], 403)
                self.assertEqual(u.request("PUT", "system/config", exp, token=op)[0], 403)

                # changed on the unit, then the export put back: as exported again
                for path_, body in (("security/services", {"snmp": False}),
                                    ("serial/ports/2", {"mode": "realcom"}),
                                    ("system/sntp", {"enabled": False, "servers": []}),
                                    ("security/login-message", {"text": "changed"}),
                                    ("security/password-policy", {"min_length": 12})):
                    self.assertEqual(u.request("PUT", path_, body, token=boss)[0], 200)
                imp = dict(exp, mac="00:90:E8:FF:FF:FF", serial="OTHER")
                imp["settings"] = dict(settings, name="renamed")
                st, b, _ = u.request("PUT", "system/config", imp, token=boss)
                self.assertEqual(st, 204, b)
                now = u.request("GET", "system/config", token=boss)[1]
                self.assertEqual(dict(now["settings"], name=None),
                                 dict(settings, name=None))
                self.assertEqual(now["settings"]["name"], "renamed")
                self.assertEqual((now["mac"], now["serial"]), (exp["mac"], exp["serial"]))
                self.assertTrue(u.refuses(u.data_port(2)))
                # only what is there is applied
                st, b, _ = u.request("PUT", "system/config",
                                     {"model": exp["model"], "settings": {"services":
                                                                          {"wins": True}}},
                                     token=boss)
                self.assertEqual(st, 204, b)
                after = u.request("GET", "system/config", token=boss)[1]["settings"]
                self.assertEqual(after["services"], dict(settings["services"], wins=True))
                self.assertEqual(after["network"], settings["network"])

                # refusals: another model, bad settings, a port the unit lacks
                for body, code in (
                        (dict(exp, model="NPort 6650-G2"), "wrong_model"),
                        ({"model": exp["model"], "settings": {"services": {"x": 1}}},
                         "unknown_field"),
                        ({"model": exp["model"], "settings": {"serial_ports": [
                            {"port": 3, "mode": "disabled"}]}}, "out_of_range"),
                        ({"model": exp["model"]}, "missing_field"),
                        ({"model": exp["model"], "settings": {"accounts": []}},
                         "unknown_field")):
                    st, b, _ = u.request("PUT", "system/config", body, token=boss)
                    self.assertEqual((st, b["error"]), (422, code), body)
                self.assertNotIn("x", u.request("GET", "security/services",
                                                token=boss)[1])
        finally:
            os.unlink(path)


def served(port):
    """The SHA-256 of the certificate a TLS server on 127.0.0.1:port shows,
    as the API writes it ("AB:CD:...")."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with unverified().wrap_socket(s) as t:
            return sha256_text(t.getpeercert(binary_form=True))


def sha256_text(der):
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


class Address(unittest.TestCase):
    """A G2 makes itself a new certificate when its address changes
    (docs/device-model.md): HTTPS and the encrypted ports show it, hosts connected
    before are dropped.  Other settings, the same address again, or a
    certificate given with --cert keep it."""

    def test_new_address_new_certificate(self):
        with Unit("--factory") as u:
            token = u.setup()

            def api(method, path, body=None):
                st, b, _ = u.request(method, path, body, token=token)
                self.assertEqual(st, 200, b)
                return b
            old = api("GET", "security/certificate")["sha256"]
            api("PUT", "serial/ports/1", {"connection": "encrypted"})
            wrap = unverified().wrap_socket
            c, d = u.realcom(1, wrap_cmd=wrap, wrap_data=wrap)
            self.assertEqual(sha256_text(d.getpeercert(binary_form=True)), old)
            api("PUT", "network/ipv4", {"address": "127.0.0.1", "mode": "manual"})
            self.assertEqual(served(u.https_port), old)
            self.assertEqual(api("PUT", "network/ipv4", {"address": "192.0.2.10"})["address"],
                             "192.0.2.10")
            expect_closed(d)
            expect_closed(c)
            new = api("GET", "security/certificate")["sha256"]
            self.assertNotEqual(new, old)
            self.assertEqual(served(u.https_port), new)
            self.assertEqual(u.ok(cmd="status")["management"]["certificate_sha256"], new)
            c, d = u.realcom(1, wrap_cmd=wrap, wrap_data=wrap)
            self.assertEqual(sha256_text(d.getpeercert(binary_form=True)), new)
            c.sendall(H("1300"))
            self.assertEqual(recv_exact(c, 5), H("1303010101"))
            api("PUT", "network/ipv4", {"mode": "dhcp", "gateway": "192.0.2.1"})
            self.assertEqual(served(u.https_port), new)
            self.assertIn("address changed: new certificate", u.log_text())

    def test_given_certificate_stays(self):
        certs = simlib.Certs()
        certs.setup()
        try:
            with Unit("--factory", "--cert", certs.path("server.pem"),
                      "--key", certs.path("server.key")) as u:
                token = u.setup()
                old = served(u.https_port)
                st, b, _ = u.request("PUT", "network/ipv4", {"address": "192.0.2.10"},
                                     token=token)
                self.assertEqual(st, 200, b)
                self.assertEqual(served(u.https_port), old)
                self.assertNotIn("address changed", u.log_text())
        finally:
            certs.teardown()


class Firmware(unittest.TestCase):
    """POST /system/firmware: a binary image whose first line is "MODEL
    firmware VERSION"; accepted, the unit drops its sessions, answers 503 for
    --restart-seconds and comes back with the new version."""

    IMAGE = b"NPort 6150-G2 firmware 2.0.1\n" + bytes(range(256)) * 64

    def upload(self, u, data, token):
        return u.request("POST", "system/firmware", raw=data, token=token,
                         headers={"Content-Type": "application/octet-stream"})

    def test_upgrade_restart_new_version(self):
        with Unit("--factory", "--firmware", "1.0.0", "--restart-seconds", "0.5") as u:
            token = u.setup()
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "1.0.0")
            st, b, _ = self.upload(u, self.IMAGE, token)
            self.assertEqual((st, b["firmware"]), (202, "2.0.1"), b)
            # restarting: 503, then back with the new version
            st, b, _ = u.request("GET", "device")
            if st == 503:
                self.assertEqual(b["error"], "restarting")
            wait_for(lambda: u.request("GET", "device")[0] == 200, "the unit back")
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "2.0.1")
            mgmt = u.ok(cmd="status")["management"]
            self.assertEqual((mgmt["firmware"], mgmt["firmware_uploads"]), ("2.0.1", 1))
            # the session ended with the restart
            self.assertEqual(u.request("GET", "serial/ports", token=token)[0], 401)
            self.assertEqual(mgmt["sessions"], 0)

    def test_restart_window(self):
        with Unit("--factory", "--restart-seconds", "3") as u:
            token = u.setup()
            self.assertEqual(self.upload(u, self.IMAGE, token)[0], 202)
            st, b, _ = u.request("GET", "device")
            self.assertEqual((st, b["error"]), (503, "restarting"))
            self.assertEqual(u.request("POST", "auth/login", {"username": "admin",
                                                              "password": ADMIN_PW})[0], 503)
            self.assertTrue(u.ok(cmd="status")["management"]["restarting"])
            wait_for(lambda: u.request("GET", "device")[0] == 200, "the unit back")
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "2.0.1")

    def test_keep_firmware_fault(self):
        with Unit("--factory", "--firmware", "1.0.0", "--restart-seconds", "0.2",
                  "--keep-firmware") as u:
            token = u.setup()
            self.assertEqual(self.upload(u, self.IMAGE, token)[0], 202)
            wait_for(lambda: not u.ok(cmd="status")["management"]["restarting"], "the restart")
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "1.0.0")

    def test_refused_images(self):
        with Unit("--factory", "--firmware", "1.0.0") as u:
            token = u.setup()
            for data, code in (
                    (b"NPort 5110 firmware 2.0\n" + b"\0" * 100, "wrong_model"),
                    (b"NPort 6150-G2 firmware 2.0.1", "bad_image"),      # no line end
                    (b"NPort 6150-G2 2.0.1\n\0", "bad_image"),
                    (b"NPort 6150-G2 firmware \n\0", "bad_image"),
                    (b"NPort 6150-G2 firmware 2.0\x01\n", "bad_image"),
                    (b"", "bad_image")):
                st, b, _ = self.upload(u, data, token)
                self.assertEqual((st, b["error"]), (422, code), data[:40])
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "1.0.0")
            mgmt = u.ok(cmd="status")["management"]
            self.assertEqual((mgmt["firmware_uploads"], mgmt["firmware_requests"]), (0, 6))
            # a JSON route still refuses binary bytes
            self.assertEqual(u.request("POST", "auth/login", raw=b"\x01")[0], 400)

    def test_too_large(self):
        with Unit("--factory") as u:
            token = u.setup()
            raw = socket.create_connection(("127.0.0.1", u.https_port), timeout=10)
            s = unverified().wrap_socket(raw)
            try:
                s.sendall(b"POST /api/v1/system/firmware HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + token.encode() + b"\r\n"
                          b"Content-Type: application/octet-stream\r\n"
                          b"Content-Length: %d\r\n\r\n" % (32 * 1024 * 1024 + 1))
                head = b""
                while not head.endswith(b"}"):     # the answer, then the unit closes
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            finally:
                s.close()
            self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:80])
            self.assertIn(b'"too_large"', head)
            self.assertEqual(u.request("GET", "device")[1]["firmware"], "1.1")

    def test_operator_and_anonymous_refused(self):
        path = accounts_file("boss:boss-password:admin\nop:op-password:operator\n")
        try:
            with Unit("--accounts", path) as u:
                op = u.login("op", "op-password")
                st, b, _ = self.upload(u, self.IMAGE, op)
                self.assertEqual((st, b["error"]), (403, "forbidden"))
                self.assertEqual(self.upload(u, self.IMAGE, None)[0], 401)
                self.assertEqual(u.request("GET", "system/firmware", token=op)[0], 405)
                self.assertEqual(u.ok(cmd="status")["management"]["firmware_uploads"], 0)
        finally:
            os.unlink(path)

    def test_option_errors(self):
        for args in (["--firmware", "1 0"], ["--firmware", ""], ["--restart-seconds", "0"],
                     ["--restart-seconds", "x"]):
            p = subprocess.run([simlib.NPORTSIM, *args], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("Try 'nportsim --help'", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
