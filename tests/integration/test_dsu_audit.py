#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dsu audit against nportsim on 127.0.0.1: every check id of issue 16 passing
and failing (or warning, where the guide leaves the choice to the site), a
unit set up and left at its defaults failing what the guide cares about, one
set up to the baseline passing, an operator getting unknown for what it may
not read, an unreachable unit and a refused login audited as "not audited"
(exit 2) while the others are still audited, the --json and --junit shapes,
dsu backup's record read for backup.recent, and an impostor answering odd
JSON: unknown, never a crash."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from itlib import DSU, Certs, DsuCase, Unit  # noqa: E402
from test_dsu import serve_impostor  # noqa: E402

PASSWORD = "correct horse 1"
IDS = ["services.snmp-off", "password.min-length", "password.strength", "password.lifetime",
       "lockout.enabled", "allowlist.enabled", "syslog.remote", "syslog.tls", "sntp.enabled",
       "ports.encrypted", "ports.unused-disabled", "web.sessions-limited",
       "dos-defense.enabled", "certificate.ca-signed", "certificate.pin-unchanged",
       "backup.recent", "firmware.known"]
DAY = 86400
# the baseline of issue 16: every recommendation that needs no site input
BASELINE = [("security/password-policy", {"min_length": 16, "digit": True, "mixed_case": True,
                                          "special": True, "lifetime_days": 90}),
            ("security/web-sessions", {"max_sessions": 4})]


class Audit(DsuCase):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.home, "state")
        self.env = {"XDG_STATE_HOME": self.state}

    def unit(self, *args, setup=True, **kw):
        u = Unit("--factory", *args, **kw)
        self.units.append(u)
        if setup:
            self.dsu("setup", u.host, "--user", "admin", password=PASSWORD)
            u.token = u.login("admin", PASSWORD)
        return u

    def put(self, u, path, body):
        st, b, _ = u.request("PUT", path, body, token=u.token)
        self.assertEqual(st, 200, f"PUT {path}: {b}")

    def audit(self, *hosts, user="admin", password=PASSWORD, want=None, extra=()):
        """dsu audit --json: [{unit, mac, model, firmware, checks}], the result."""
        args = ["audit", *hosts, "--json", *extra] + (["--user", user] if user else [])
        r = self.dsu(*args, password=password, want=want)
        self.assertGreaterEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout), r

    def statuses(self, unit):
        self.assertEqual([c["id"] for c in unit["checks"]], IDS)
        for c in unit["checks"]:
            self.assertEqual(set(c), {"id", "title", "status", "detail"})
            self.assertTrue(c["title"] and c["detail"], c)
        return {c["id"]: c["status"] for c in unit["checks"]}

    def check(self, unit, cid):
        return next(c for c in unit["checks"] if c["id"] == cid)

    def record_backup(self, mac, when, *more):
        os.makedirs(os.path.join(self.state, "realcom"), exist_ok=True)
        with open(os.path.join(self.state, "realcom", "backups"), "w") as f:
            f.writelines(more)
            f.write(f"{mac} {int(when)} /var/backups/{mac}.json\n")

    def test_factory_defaults_fail_what_the_guide_cares_about(self):
        """A unit just set up, at nportsim's defaults (the guide's: SNMP off,
        lockout and DoS defense on; policy at 8 characters, ten sessions)."""
        u = self.unit("--ports", "2")
        units, r = self.audit(u.host, want=1)
        self.assertEqual(len(units), 1)
        a = units[0]
        dev = u.request("GET", "device")[1]
        self.assertEqual((a["unit"], a["mac"], a["model"], a["firmware"]),
                         (u.host, dev["mac"], dev["model"], "1.1"))
        self.assertEqual(self.statuses(a), {
            "services.snmp-off": "pass", "password.min-length": "fail",
            "password.strength": "fail", "password.lifetime": "fail",
            "lockout.enabled": "pass", "allowlist.enabled": "warn", "syslog.remote": "warn",
            "syslog.tls": "warn", "sntp.enabled": "warn", "ports.encrypted": "warn",
            "ports.unused-disabled": "warn", "web.sessions-limited": "fail",
            "dos-defense.enabled": "pass", "certificate.ca-signed": "warn",
            "certificate.pin-unchanged": "pass", "backup.recent": "warn",
            "firmware.known": "pass"})
        self.assertIn("first audit from here", self.check(a, "certificate.pin-unchanged")["detail"])
        # each detail says what was found and what the guide asks
        self.assertIn("minimum password length 8; the guide asks 16",
                      self.check(a, "password.min-length")["detail"])
        self.assertIn("a digit, mixed case, a special character",
                      self.check(a, "password.strength")["detail"])
        self.assertIn("10 simultaneous web sessions",
                      self.check(a, "web.sessions-limited")["detail"])
        self.assertIn("ports 1, 2 unencrypted", self.check(a, "ports.encrypted")["detail"])
        self.assertIn("never backed up", self.check(a, "backup.recent")["detail"])
        self.assertIn("self-signed", self.check(a, "certificate.ca-signed")["detail"])
        # the human table: a line per check, a summary
        r = self.dsu("audit", u.host, "--user", "admin", password=PASSWORD, want=1)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(f"{u.host}  NPort 6150-G2  {dev['mac']}"), r.stdout)
        self.assertRegex(r.stdout, r"\n  password\.min-length +fail +minimum password length 8")
        self.assertRegex(r.stdout, r"\n  services\.snmp-off +pass ")
        self.assertIn("5 pass, 8 warn, 4 fail, 0 unknown", r.stdout)
        self.assertIn("the certificate the last audit saw", r.stdout)

    def test_baseline_audits_clean(self):
        u = self.unit("--ports", "2")
        for path, body in BASELINE:
            self.put(u, path, body)
        units, r = self.audit(u.host, want=0)
        st = self.statuses(units[0])
        self.assertNotIn("fail", st.values(), r.stdout)
        for cid in ("password.min-length", "password.strength", "password.lifetime",
                    "web.sessions-limited", "services.snmp-off", "lockout.enabled",
                    "dos-defense.enabled", "firmware.known"):
            self.assertEqual(st[cid], "pass", cid)
        self.dsu("audit", u.host, "--user", "admin", password=PASSWORD, want=0)

    def test_every_check_passes_and_fails(self):
        u = self.unit("--ports", "2")
        for path, body in BASELINE:
            self.put(u, path, body)
        mac = u.request("GET", "device")[1]["mac"]
        # pass: everything the site decides, decided
        self.put(u, "security/allowlist", {"enabled": True, "entries": [
            {"address": "127.0.0.0", "netmask": "255.0.0.0"}]})
        self.put(u, "system/syslog", {"remote": [{"address": "192.0.2.5", "port": 6514,
                                                  "tls": True}]})
        self.put(u, "system/sntp", {"enabled": True, "servers": ["192.0.2.1"]})
        for n in (1, 2):
            self.put(u, f"serial/ports/{n}", {"connection": "encrypted"})
        # dsu backup's record, the MAC in lower case; other units' lines and junk around it
        self.record_backup(mac.lower(), time.time() - 3 * DAY, "garbage\n",
                           f"00:90:E8:FF:FF:FF {int(time.time())} /x\n",
                           f"{mac} {int(time.time() - 400 * DAY)} /older\n")
        units, r = self.audit(u.host, want=0)
        st = self.statuses(units[0])
        want_pass = set(IDS) - {"ports.unused-disabled", "certificate.ca-signed"}
        self.assertEqual({k for k, v in st.items() if v == "pass"}, want_pass, r.stdout)
        self.assertIn("3 days ago", self.check(units[0], "backup.recent")["detail"])
        self.assertIn("192.0.2.5:6514", self.check(units[0], "syslog.remote")["detail"])
        # ports not in use disabled: pass (and "encrypted" has nothing to object to)
        for n in (1, 2):
            self.put(u, f"serial/ports/{n}", {"mode": "disabled"})
        st = self.statuses(self.audit(u.host, want=0)[0][0])
        self.assertEqual((st["ports.unused-disabled"], st["ports.encrypted"]), ("pass", "pass"))
        self.put(u, "serial/ports/1", {"mode": "realcom"})
        a = self.audit(u.host, want=0)[0][0]
        self.assertEqual(self.check(a, "ports.unused-disabled")["status"], "warn")
        self.assertIn("port 1 enabled with no host",
                      self.check(a, "ports.unused-disabled")["detail"])

        # fail, one setting at a time; each is put back before the next
        cases = [
            ("security/services", {"snmp": True}, {"snmp": False}, "services.snmp-off",
             "SNMP agent on"),
            ("security/password-policy", {"min_length": 15}, {"min_length": 16},
             "password.min-length", "length 15"),
            ("security/password-policy", {"special": False}, {"special": True},
             "password.strength", "need not have a special character"),
            ("security/password-policy", {"lifetime_days": 0}, {"lifetime_days": 90},
             "password.lifetime", "no password lifetime"),
            ("security/login-lockout", {"enabled": False}, {"enabled": True},
             "lockout.enabled", "lockout off"),
            ("system/syslog", {"remote": [{"address": "192.0.2.5", "port": 514,
                                           "tls": False}]},
             {"remote": [{"address": "192.0.2.5", "port": 6514, "tls": True}]},
             "syslog.tls", "without TLS to 192.0.2.5:514"),
            ("system/sntp", {"servers": []}, {"servers": ["192.0.2.1"]}, "sntp.enabled",
             "without a server"),
            ("security/web-sessions", {"max_sessions": 5}, {"max_sessions": 4},
             "web.sessions-limited", "5 simultaneous"),
            ("security/dos-defense", {"enabled": False}, {"enabled": True},
             "dos-defense.enabled", "DoS defense off"),
        ]
        for path, bad, good, cid, words in cases:
            with self.subTest(cid):
                self.put(u, path, bad)
                units, r = self.audit(u.host, want=1)
                st = self.statuses(units[0])
                self.assertEqual([k for k, v in st.items() if v == "fail"], [cid], r.stdout)
                self.assertIn(words, self.check(units[0], cid)["detail"])
                self.put(u, path, good)
        # a lifetime longer than the guide's 90 days warns
        self.put(u, "security/password-policy", {"lifetime_days": 180})
        a = self.audit(u.host, want=0)[0][0]
        self.assertEqual(self.check(a, "password.lifetime")["status"], "warn")
        self.put(u, "security/password-policy", {"lifetime_days": 90})
        # the backup: too old fails, in the future is unknown, none warns
        self.record_backup(mac, time.time() - 91 * DAY)
        a = self.audit(u.host, want=1)[0][0]
        self.assertEqual(self.check(a, "backup.recent")["status"], "fail")
        self.assertIn("91 days ago", self.check(a, "backup.recent")["detail"])
        self.record_backup(mac, time.time() + 30 * DAY)
        a = self.audit(u.host, want=0)[0][0]
        self.assertEqual(self.check(a, "backup.recent")["status"], "unknown")
        self.record_backup("00:90:E8:FF:FF:FF", time.time())
        a = self.audit(u.host, want=0)[0][0]
        self.assertEqual(self.check(a, "backup.recent")["status"], "warn")
        # allowlist and remote syslog need the site's input: warn, not fail
        self.put(u, "security/allowlist", {"enabled": False})
        self.put(u, "system/syslog", {"remote": []})
        self.put(u, "system/sntp", {"enabled": False})
        st = self.statuses(self.audit(u.host, want=0)[0][0])
        self.assertEqual([st[k] for k in ("allowlist.enabled", "syslog.remote", "syslog.tls",
                                          "sntp.enabled")], ["warn"] * 4)

    def test_a_certificate_confirmed_since_the_last_audit_fails_once(self):
        """The unit moves and makes a new certificate; dsu refuses it until
        someone confirms it with --fingerprint; the next audit names the
        change, the one after passes."""
        u = self.unit()
        self.audit(u.host, want=1)
        self.put(u, "network/ipv4", {"address": "192.0.2.10"})
        units, r = self.audit(u.host, want=2)
        self.assertIn("not the one pinned", units[0]["error"])
        with open(os.path.join(self.state, "realcom", "audited_certificates")) as f:
            old = next(line.split()[1] for line in f if line.startswith(u.host + " "))
        new = "sha256:" + u.ok(cmd="status")["management"]["certificate_sha256"]
        self.assertNotEqual(old, new)
        self.dsu("info", u.host, "--fingerprint", new)
        for path, body in BASELINE:
            self.put(u, path, body)
        units, r = self.audit(u.host, want=1)
        c = self.check(units[0], "certificate.pin-unchanged")
        self.assertEqual(c["status"], "fail", c)
        self.assertIn(f"was {old}, now {new}", c["detail"])
        self.assertEqual([x["id"] for x in units[0]["checks"] if x["status"] == "fail"],
                         ["certificate.pin-unchanged"])
        units, r = self.audit(u.host, want=0)
        self.assertEqual(self.check(units[0], "certificate.pin-unchanged")["status"], "pass")
        path = os.path.join(self.state, "realcom", "audited_certificates")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

    def test_ca_signed_certificate_passes(self):
        certs = Certs()
        certs.setup()
        try:
            u = self.unit("--cert", certs.path("server.pem"), "--key", certs.path("server.key"))
            a = self.audit(u.host, want=None)[0][0]
            c = self.check(a, "certificate.ca-signed")
            self.assertEqual(c["status"], "pass", c)
            self.assertIn("issued by", c["detail"])
        finally:
            certs.teardown()

    def test_operator_gets_unknown_not_a_crash(self):
        fd, path = tempfile.mkstemp(dir=self.home)
        os.write(fd, f"admin:{PASSWORD}:admin\nop:op-password-1:operator\n".encode())
        os.close(fd)
        os.chmod(path, 0o600)
        u = Unit("--accounts", path)
        self.units.append(u)
        units, r = self.audit(u.host, user="op", password="op-password-1", want=0)
        st = self.statuses(units[0])
        readable = {"ports.encrypted", "ports.unused-disabled", "certificate.ca-signed",
                    "certificate.pin-unchanged", "backup.recent", "firmware.known"}
        for cid, status in st.items():
            if cid in readable:
                self.assertNotEqual(status, "unknown", cid)
            else:
                self.assertEqual(status, "unknown", cid)
                self.assertIn('"op" may not read GET /api/v1/', self.check(units[0], cid)["detail"])
        # without --user: what needs no login is still checked
        units, r = self.audit(u.host, user=None, password=None, want=0)
        st = self.statuses(units[0])
        self.assertEqual(st["firmware.known"], "pass")
        self.assertEqual(st["backup.recent"], "warn")
        self.assertIn("needs a login (--user)", self.check(units[0], "services.snmp-off")["detail"])

    def test_unreachable_and_refused_units_do_not_stop_the_others(self):
        u = self.unit()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"127.0.0.1:{s.getsockname()[1]}"
        units, r = self.audit(closed, u.host, want=2, extra=["--timeout", "5"])
        self.assertEqual([x["unit"] for x in units], [closed, u.host])
        self.assertIn("unreachable", units[0]["error"])
        self.assertEqual(units[0]["checks"], [])
        self.statuses(units[1])
        self.assertIn(f"dsu: {closed}: not audited: unreachable", r.stderr)
        # the table says so too, and still audits the next unit
        r = self.dsu("audit", closed, u.host, "--user", "admin", password=PASSWORD, want=2)
        self.assertIn(f"{closed}: not audited: unreachable", r.stdout)
        self.assertIn("password.min-length", r.stdout)
        # a wrong password: not audited either
        units, r = self.audit(u.host, password="wrong password", want=2)
        self.assertIn("login refused", units[0]["error"])
        # a changed certificate: refused as elsewhere in dsu
        known = os.path.join(self.home, ".config/realcom/known_devices")
        with open(known, "w") as f:
            f.write(f"{u.host} sha256:" + ":".join(["00"] * 32) + "\n")
        units, r = self.audit(u.host, want=2)
        self.assertIn("not the one pinned", units[0]["error"])

    def test_junit(self):
        u = self.unit()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"127.0.0.1:{s.getsockname()[1]}"
        out = os.path.join(self.home, "audit.xml")
        r = self.dsu("audit", u.host, closed, "--user", "admin", "--junit", out,
                     password=PASSWORD, want=2)
        self.assertIn("password.min-length", r.stdout)
        root = ET.parse(out).getroot()
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertEqual([s.get("name") for s in suites], [u.host, closed])
        cases = suites[0].findall("testcase")
        self.assertEqual([c.get("name") for c in cases], IDS)
        failed = [c.get("name") for c in cases if c.find("failure") is not None]
        self.assertEqual(failed, ["password.min-length", "password.strength",
                                  "password.lifetime", "web.sessions-limited"])
        self.assertEqual(suites[0].get("failures"), "4")
        self.assertEqual(suites[0].get("tests"), str(len(IDS)))
        props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
        self.assertEqual(props["firmware"], "1.1")
        self.assertIn("minimum password length 8",
                      cases[1].find("failure").get("message"))
        self.assertEqual(suites[1].get("errors"), "1")
        self.assertIn("unreachable", suites[1].find("testcase/error").get("message"))

    def test_usage(self):
        self.dsu("audit", want=2)
        r = self.dsu("audit", "--help")
        self.assertIn("--junit", r.stdout)
        self.dsu("audit", "a", "b", "--fingerprint", "sha256:00", want=2)
        r = self.dsu("audit", "127.0.0.1:1", "--user", "x", "--password", "x", want=2)
        self.assertIn("never go on the command line", r.stderr)
        r = self.dsu("--help")
        self.assertIn("audit HOST...", r.stdout)


HOSTILE = {
    "/api/v1/security/services": (200, '{"snmp":"off"}'),
    "/api/v1/security/password-policy": (200, "[]"),
    "/api/v1/security/allowlist": (200, '{"enabled":true,"entries":{"a":1}}'),
    "/api/v1/system/syslog": (200, '{"remote":[5,null,{"address":7}]}'),
    "/api/v1/system/sntp": (200, "null"),
    "/api/v1/serial/ports": (200, '[{"port":"1","mode":"realcom","connection":[],'
                                  '"connected":"yes"}]'),
    "/api/v1/security/web-sessions": (401, '{"error":"x","message":"\\u001b[2Jgone"}'),
    "/api/v1/security/login-lockout": (200, '{"enabled":1,"max_failures":-5}'),
    "/api/v1/security/dos-defense": (200, '{"enabled":"true"}'),
    "/api/v1/security/certificate": (200, '{"pem":5,"sha256":[]}'),
    "/api/v1/auth/login": (200, '{"token":"' + "ab" * 16 + '","expires_in":900}'),
    "/api/v1/auth/logout": (204, ""),
}


class Impostor(unittest.TestCase):
    """Answers no unit sends: wrong types, missing fields, a JSON null, text
    that must be escaped in XML."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="dsu-audit-test-")
        self.certs = Certs()
        self.certs.setup()

    def tearDown(self):
        self.certs.teardown()
        subprocess.run(["rm", "-rf", self.home])

    def dsu(self, *args):
        env = {"HOME": self.home, "PATH": "/usr/bin:/bin", "DSU_PASSWORD": PASSWORD}
        return subprocess.run([DSU, *args], capture_output=True, text=True, env=env,
                              timeout=120, stdin=subprocess.DEVNULL)

    def serve(self, device):
        answers = dict(HOSTILE)
        answers["/api/v1/device"] = (200, device)
        srv = serve_impostor(self.certs, answers)
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return f"127.0.0.1:{srv.server_address[1]}"

    def test_odd_answers_are_unknown(self):
        host = self.serve('{"model":["NPort 6150-G2"],"mac":5,"firmware":1.1,"name":{}}')
        r = self.dsu("audit", host, "--user", "admin", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        units = json.loads(r.stdout)
        self.assertEqual((units[0]["mac"], units[0]["model"], units[0]["firmware"]), ("", "", ""))
        # all unknown but the host's own fact: the certificate it saw
        self.assertEqual({c["id"]: c["status"] for c in units[0]["checks"]},
                         {i: "pass" if i == "certificate.pin-unchanged" else "unknown"
                          for i in IDS})
        detail = {c["id"]: c["detail"] for c in units[0]["checks"]}
        self.assertIn("not JSON", detail["sntp.enabled"])
        self.assertIn("HTTP 401: ?[2Jgone", detail["web.sessions-limited"])
        self.assertIn('no boolean "snmp"', detail["services.snmp-off"])
        # an identity that is not an object: the unit cannot be audited
        host = self.serve('["NPort"]')
        r = self.dsu("audit", host, "--user", "admin", "--json")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("not a JSON object", json.loads(r.stdout)[0]["error"])

    def test_firmware_rule(self):
        for model, fw, status, words in (
                ("NPort 6150-G2", "1.0.0", "fail", "CVE-2025-2026"),
                ("NPort 6250-G2", "1.1", "pass", "firmware 1.1"),
                ("NPort 6150-G2", "9.9", "warn", "not a release dsu knows"),
                ("NPort 5110", "1.1", "warn", "not one of the NPort 6100-G2/6200-G2")):
            with self.subTest(fw=fw, model=model):
                host = self.serve(json.dumps({"model": model, "mac": "00:90:E8:00:00:01",
                                              "firmware": fw}))
                r = self.dsu("audit", host, "--json")
                self.assertEqual(r.returncode, 1 if status == "fail" else 0, r.stderr)
                c = next(c for c in json.loads(r.stdout)[0]["checks"]
                         if c["id"] == "firmware.known")
                self.assertEqual(c["status"], status, c)
                self.assertIn(words, c["detail"])

    def test_junit_escapes(self):
        host = self.serve(json.dumps({"model": "NPort <&\"'>\u001b]", "mac": "00:90:E8:00:00:01",
                                      "firmware": "1.0.0"}))
        out = os.path.join(self.home, "j.xml")
        r = self.dsu("audit", host, "--junit", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        root = ET.parse(out).getroot()
        props = {p.get("name"): p.get("value") for p in root.iter("property")}
        self.assertEqual(props["model"], "NPort <&\"'>?]")
        out = root.find(".//testcase[@name='firmware.known']/system-out").text
        self.assertIn("not one of", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
