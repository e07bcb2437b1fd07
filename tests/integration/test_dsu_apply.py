#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dsu apply FILE against nportsim on 127.0.0.1: the hardening baseline makes
dsu audit pass what it checks, a second run is "up to date", --dry-run and a
refused file change nothing, explicit keys override the baseline, an
allowlist that would shut dsu out and a unit with another MAC are refused, a
refusal half-way says what was applied and what not, and an unreachable unit
does not stop the others."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import DSU, Certs, DsuCase, Unit, free_port  # noqa: E402

PASSWORD = "Correct-horse-battery-9"   # passes the baseline's password policy
WEAK = "correct horse 1"               # no upper case: breaks it
# the checks the baseline must make pass (dsu audit's ids)
BASELINE_CHECKS = ["services.snmp-off", "password.min-length", "password.strength",
                   "password.lifetime", "lockout.enabled", "web.sessions-limited",
                   "dos-defense.enabled"]


class Apply(DsuCase):
    def setUp(self):
        super().setUp()
        self.env = {"XDG_STATE_HOME": os.path.join(self.home, "state")}

    def unit(self, *args, password=PASSWORD, **kw):
        u = Unit("--factory", *args, **kw)
        self.units.append(u)
        self.dsu("setup", u.host, "--user", "admin", password=password)
        u.token = u.login("admin", password)
        return u

    def get(self, u, path):
        st, b, _ = u.request("GET", path, token=u.token)
        self.assertEqual(st, 200, f"GET {path}: {b}")
        return b

    def fleet(self, text, name="fleet.ini"):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def dsu(self, *args, password=PASSWORD, **kw):
        return super().dsu(*args, password=password, **kw)

    def audit(self, u):
        r = self.dsu("audit", u.host, "--user", "admin", "--json", want=None)
        return {c["id"]: c["status"] for c in json.loads(r.stdout)[0]["checks"]}

    def snapshot(self, u):
        return {p: self.get(u, p) for p in ["security/services", "security/password-policy",
                                            "security/login-lockout", "security/allowlist",
                                            "security/web-sessions", "security/dos-defense",
                                            "system/sntp", "system/syslog",
                                            "security/login-message", "serial/ports"]}

    def test_baseline_then_up_to_date(self):
        u = self.unit()
        self.assertEqual(self.get(u, "security/web-sessions")["max_sessions"], 10)
        before = self.audit(u)
        self.assertIn("fail", [before[c] for c in BASELINE_CHECKS])
        path = self.fleet(f"[unit first]\nhost = {u.host}\nuser = admin\n"
                          "baseline = hardening-guide\n")
        r = self.dsu("apply", path, "--yes")
        self.assertIn("first: password_policy.min_length: 8 -> 16\n", r.stdout)
        self.assertIn("first: web_sessions.max_sessions: 10 -> 4\n", r.stdout)
        self.assertIn("first: applied", r.stdout)
        after = self.audit(u)
        for c in BASELINE_CHECKS:
            self.assertEqual(after[c], "pass", f"{c} after the baseline: {after}")
        r = self.dsu("apply", path, "--yes")
        self.assertEqual(r.stdout, "first: up to date\n")
        # --json says the same
        r = self.dsu("apply", path, "--yes", "--json")
        self.assertEqual(json.loads(r.stdout), [{"unit": "first", "host": u.host, "changes": [],
                                                 "error": None}])

    def test_dry_run_changes_nothing(self):
        u = self.unit()
        before = self.snapshot(u)
        path = self.fleet(f"[unit a]\nhost = {u.host}\nuser = admin\nbaseline = hardening-guide\n"
                          "sntp = 127.0.0.1 pool.example\n")
        r = self.dsu("apply", path, "--dry-run")
        self.assertIn("a: services.snmp: on -> off\n", r.stdout) if before[
            "security/services"]["snmp"] else None
        self.assertIn("a: sntp: off -> 127.0.0.1 pool.example\n", r.stdout)
        self.assertIn("a: dry run:", r.stdout)
        self.assertEqual(self.snapshot(u), before)
        # --json shows the plan, none applied
        r = self.dsu("apply", path, "--dry-run", "--json")
        out = json.loads(r.stdout)[0]
        self.assertIsNone(out["error"])
        self.assertIn({"setting": "sntp", "now": "off", "wanted": "127.0.0.1 pool.example",
                       "applied": False}, out["changes"])
        self.assertEqual(self.snapshot(u), before)
        # without a terminal and without --yes: refused, nothing changed (as dsu unmap)
        r = self.dsu("apply", path, want=1)
        self.assertIn("--yes", r.stderr)
        self.assertEqual(self.snapshot(u), before)

    def on_terminal(self, path, answer):
        """dsu apply FILE with a pty on stdin that answers answer: the result."""
        master, slave = os.openpty()
        try:
            os.write(master, answer.encode())
            env = {"HOME": self.home, "PATH": "/usr/bin:/bin", "DSU_PASSWORD": PASSWORD}
            return subprocess.run([DSU, "apply", path], stdin=slave, capture_output=True,
                                  text=True, env=env, timeout=120)
        finally:
            os.close(slave)
            os.close(master)

    def test_terminal_asks(self):
        u = self.unit()
        path = self.fleet(f"[unit t]\nhost = {u.host}\nuser = admin\nservices.wins = on\n")
        r = self.on_terminal(path, "n\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Apply 1 change to t? [y/N] ", r.stderr)
        self.assertIn("dsu: t: not confirmed, nothing changed\n", r.stderr)
        self.assertFalse(self.get(u, "security/services")["wins"])
        r = self.on_terminal(path, "y\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("t: applied 1 change\n", r.stdout)
        self.assertTrue(self.get(u, "security/services")["wins"])

    def test_explicit_keys_override_baseline(self):
        u = self.unit()
        path = self.fleet(f"""# the site's own choices
[unit b]
host = {u.host}
user = admin
baseline = hardening-guide
password_policy.min_length = 20
web_sessions.max_sessions = 2
login_lockout.max_failures = 3
allowlist = 127.0.0.0/8, 192.0.2.0/24
syslog = 127.0.0.1:6514 tls, 192.0.2.9
sntp = 127.0.0.1
login_message = Authorised use only
port.1.mode = rfc2217
""")
        r = self.dsu("apply", path, "--yes")
        self.assertIn("b: allowlist: off -> 127.0.0.0/8 192.0.2.0/24\n", r.stdout)
        self.assertIn("b: syslog: none -> 127.0.0.1:6514 tls, 192.0.2.9:514\n", r.stdout)
        self.assertIn('b: login_message: "" -> "Authorised use only"\n', r.stdout)
        pol = self.get(u, "security/password-policy")
        self.assertEqual(pol, {"min_length": 20, "digit": True, "mixed_case": True,
                               "special": True, "lifetime_days": 90})
        self.assertEqual(self.get(u, "security/web-sessions"), {"max_sessions": 2})
        lock = self.get(u, "security/login-lockout")
        self.assertEqual((lock["enabled"], lock["max_failures"]), (True, 3))
        self.assertEqual(self.get(u, "security/allowlist"),
                         {"enabled": True, "entries": [
                             {"address": "127.0.0.0", "netmask": "255.0.0.0"},
                             {"address": "192.0.2.0", "netmask": "255.255.255.0"}]})
        self.assertEqual(self.get(u, "system/syslog")["remote"],
                         [{"address": "127.0.0.1", "port": 6514, "tls": True},
                          {"address": "192.0.2.9", "port": 514, "tls": False}])
        self.assertEqual(self.get(u, "system/sntp"), {"enabled": True, "servers": ["127.0.0.1"]})
        self.assertEqual(self.get(u, "security/login-message"), {"text": "Authorised use only"})
        self.assertEqual(self.get(u, "serial/ports")[0]["mode"], "rfc2217")
        self.assertEqual(self.dsu("apply", path, "--yes").stdout, "b: up to date\n")
        # a unit stricter than the baseline stays so
        path = self.fleet(f"[unit b]\nhost = {u.host}\nuser = admin\nbaseline = hardening-guide\n")
        self.assertEqual(self.dsu("apply", path, "--yes").stdout, "b: up to date\n")
        self.assertEqual(self.get(u, "security/password-policy")["min_length"], 20)

    def refused(self, u, keys, *words):
        """dsu apply of a unit with keys: exit 1, words on stderr, nothing changed."""
        before = self.snapshot(u)
        path = self.fleet(f"[unit c]\nhost = {u.host}\nuser = admin\n{keys}")
        r = self.dsu("apply", path, "--yes", want=1)
        for w in words + ("nothing changed",):
            self.assertIn(w, r.stderr)
        self.assertEqual(self.snapshot(u), before)

    def test_allowlist_without_us_refused(self):
        self.refused(self.unit(), "services.snmp = off\nservices.wins = on\n"
                     "allowlist = 192.0.2.0/24 198.51.100.7\n", "allowlist", "127.0.0.1")

    def test_mac_mismatch_refused(self):
        u = self.unit("--mac", "00:90:E8:00:00:02")
        self.refused(u, "mac = 00:90:e8:00:00:01\nbaseline = hardening-guide\n",
                     "MAC 00:90:E8:00:00:02, not 00:90:E8:00:00:01")
        # the right one is applied
        path = self.fleet(f"[unit d]\nhost = {u.host}\nuser = admin\nmac = 00:90:E8:00:00:02\n"
                          "baseline = hardening-guide\n")
        self.dsu("apply", path, "--yes")

    def test_bad_file_contacts_no_unit(self):
        u = self.unit()
        before = self.snapshot(u)
        good = f"[unit e]\nhost = {u.host}\nuser = admin\nbaseline = hardening-guide\n"
        cases = [("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nservices.snmpp = off\n",
                  ":8: ", "unknown key 'services.snmpp': did you mean 'services.snmp'?"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nweb_sessions.max_sessions = 40\n",
                  ":8: ", "1 to 10"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nallowlist = 192.0.2.1/33\n",
                  ":8: ", "IPv4"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nport.33.mode = disabled\n",
                  ":8: ", "port.33.mode: expected a port number 1 to 32"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nport.1.mode = fast\n",
                  ":8: ", "realcom, rfc2217"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nmap = 1:ttyR0 2:ttyR0\n",
                  ":8: ", "PORT:ttyRN"),
                 ("[unit f]\nhost = 127.0.0.1:1\nuser = admin\nbaseline = cis\n",
                  ":8: ", "hardening-guide"),
                 ("[unit f]\nhost = 127.0.0.1:1\nservices.snmp = off\n", ":5: ", "no user")]
        for extra, line, words in cases:
            with self.subTest(extra=extra):
                path = self.fleet(good + extra)
                r = self.dsu("apply", path, "--yes", want=2)
                self.assertIn(path + line, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertEqual(r.stdout, "")
        self.assertEqual(self.snapshot(u), before)
        # a password file others may read is refused before any unit is contacted
        pw = os.path.join(self.home, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o644)
        path = self.fleet(good + "password_file = pw\n")
        r = self.dsu("apply", path, "--yes", password=None, want=2)
        self.assertIn("chmod 600", r.stderr)
        self.assertEqual(self.snapshot(u), before)
        os.chmod(pw, 0o600)
        self.dsu("apply", path, "--yes", password=None)

    def test_refusals_halfway(self):
        accounts = os.path.join(self.home, "accounts")
        with open(accounts, "w") as f:
            f.write(f"admin:{PASSWORD}:admin\nop:{PASSWORD}:operator\n")
        os.chmod(accounts, 0o600)
        u = Unit("--accounts", accounts)
        self.units.append(u)
        u.token = u.login("admin", PASSWORD)
        # an operator may read the ports but not change them
        path = self.fleet(f"[unit g]\nhost = {u.host}\nuser = op\nport.1.mode = disabled\n")
        r = self.dsu("apply", path, "--yes", want=1)
        self.assertIn("g: port.1.mode:", r.stderr)
        self.assertIn("\"op\" may not do this", r.stderr)
        self.assertIn("applied: none; not applied: port.1.mode", r.stderr)
        self.assertEqual(self.get(u, "serial/ports")[0]["mode"], "realcom")
        # nor read the security settings
        path = self.fleet(f"[unit g]\nhost = {u.host}\nuser = op\nservices.snmp = off\n")
        r = self.dsu("apply", path, "--yes", want=1)
        self.assertIn("g: services.snmp: not read: GET /api/v1/security/services: \"op\" may "
                      "not do this", r.stderr)
        self.assertIn("nothing changed", r.stderr)
        # the first refusal stops the unit: what went in and what not
        snmp = self.get(u, "security/services")["snmp"]
        path = self.fleet(f"[unit g]\nhost = {u.host}\nuser = admin\n"
                          f"services.snmp = {'off' if snmp else 'on'}\n"
                          "port.1.mode = tcp-server\nallowlist = 127.0.0.1\n")
        r = self.dsu("apply", path, "--yes", "--json", want=1)
        self.assertIn("g: port.1.mode:", r.stderr)
        self.assertIn("applied: services.snmp; not applied: port.1.mode, allowlist", r.stderr)
        out = json.loads(r.stdout)[0]
        self.assertIn("port.1.mode", out["error"])
        self.assertEqual({c["setting"]: c["applied"] for c in out["changes"]},
                         {"services.snmp": True, "port.1.mode": False, "allowlist": False})
        self.assertEqual(self.get(u, "security/services")["snmp"], not snmp)
        self.assertFalse(self.get(u, "security/allowlist")["enabled"])

    def test_weak_password_warned(self):
        u = self.unit(password=WEAK)
        path = self.fleet(f"[unit w]\nhost = {u.host}\nuser = admin\nbaseline = hardening-guide\n")
        r = self.dsu("apply", path, "--yes", password=WEAK)
        self.assertIn("breaks the new password policy", r.stderr)
        self.assertIn("must now be changed", r.stderr)
        self.assertEqual(self.get(u, "security/password-policy")["min_length"], 16)

    def test_unreachable_unit_others_applied(self):
        u = self.unit()
        path = self.fleet(f"[unit gone]\nhost = 127.0.0.1:{free_port()}\nuser = admin\n"
                          "baseline = hardening-guide\n\n"
                          f"[unit here]\nhost = {u.host}\nuser = admin\n"
                          "baseline = hardening-guide\n")
        r = self.dsu("apply", path, "--yes", want=1)
        self.assertIn("dsu: gone: ", r.stderr)
        self.assertIn("here: applied", r.stdout)
        self.assertEqual(self.get(u, "security/web-sessions"), {"max_sessions": 4})

    def test_map_writes_what_dsu_map_writes(self):
        """map = N:ttyRM writes realcom.conf with dsu map's own code, after the
        port modes it depends on; a second run changes nothing."""
        u = self.unit(ports=2)
        conf = os.path.join(self.home, "realcom.conf")
        path = self.fleet(f"[unit m]\nhost = {u.host}\nuser = admin\nconfig = realcom.conf\n"
                          "port.2.mode = rfc2217\nmap = 1:ttyR3 2:ttyR4\n")
        r = self.dsu("apply", path, "--dry-run")
        self.assertIn("m: map: 1:- 2:- -> 1:ttyR3 2:ttyR4\n", r.stdout)
        self.assertFalse(os.path.exists(conf))
        r = self.dsu("apply", path, "--yes")
        self.assertIn("m: port.2.mode: realcom -> rfc2217\nm: map: 1:- 2:- -> 1:ttyR3 2:ttyR4\n",
                      r.stdout)
        with open(conf) as f:
            text = f.read()
        self.assertIn("[ttyR3]\n", text)
        self.assertIn("[ttyR4]\n", text)
        self.assertRegex(text, r"\[ttyR4\]\n.*\nhost = 127\.0\.0\.1\nport = 2\nprotocol = rfc2217\n")
        self.assertEqual(self.dsu("apply", path, "--yes").stdout, "m: up to date\n")
        # the same sections as dsu map writes
        other = os.path.join(self.home, "other.conf")
        self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--first-tty", "3",
                 "--config", other)
        with open(other) as f:
            self.assertEqual(f.read().replace("[global]\n\n", ""), text.replace("[global]\n\n", ""))
        # a port mapped to another tty is refused before anything changes
        path = self.fleet(f"[unit m]\nhost = {u.host}\nuser = admin\nconfig = realcom.conf\n"
                          "services.wins = on\nmap = 1:ttyR3 2:ttyR5\n")
        before = self.snapshot(u)
        r = self.dsu("apply", path, "--yes", want=1)
        self.assertIn("port 2 is mapped to ttyR4 in " + conf + " already: dsu unmap ttyR4 first",
                      r.stderr)
        self.assertIn("m: map: refused", r.stderr)
        self.assertEqual(self.snapshot(u), before)

    def test_remote_ca_uploaded_once(self):
        """remote_ca = FILE: uploaded when the unit's CA has another fingerprint,
        then up to date; another CA replaces it."""
        certs = Certs()
        certs.setup()
        self.addCleanup(certs.teardown)
        u = self.unit()
        path = self.fleet(f"[unit ca]\nhost = {u.host}\nuser = admin\n"
                          f"remote_ca = {certs.path('ca.pem')}\n")
        r = self.dsu("apply", path, "--yes")
        self.assertRegex(r.stdout, r"^ca: remote_ca: none -> sha256:[0-9A-F:]{95}\nca: applied")
        fp = r.stdout.split(" -> ")[1].split("\n")[0]
        self.assertEqual("sha256:" + self.get(u, "security/remote-ca")["sha256"], fp)
        self.assertEqual(self.dsu("apply", path, "--yes").stdout, "ca: up to date\n")
        path = self.fleet(f"[unit ca]\nhost = {u.host}\nuser = admin\n"
                          f"remote_ca = {certs.path('other-ca.pem')}\n")
        r = self.dsu("apply", path, "--yes")
        self.assertIn(f"ca: remote_ca: {fp} -> sha256:", r.stdout)
        # a file that is no certificate is a file error
        path = self.fleet(f"[unit ca]\nhost = {u.host}\nuser = admin\nremote_ca = {path}\n")
        r = self.dsu("apply", path, "--yes", want=2)
        self.assertIn(":4: [unit ca]: remote_ca = ", r.stderr)
        self.assertIn("no PEM certificate", r.stderr)

    def test_example_file_is_valid(self):
        """docs/fleet.example.ini passes the file check: with its units moved
        to closed ports, each is tried (exit 1), none is a file error (2)."""
        example = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                               "fleet.example.ini")
        with open(example) as f:
            text = f.read()
        self.assertIn("baseline = hardening-guide", text)
        text = re.sub(r"(?m)^host = .*$", lambda m: f"host = 127.0.0.1:{free_port()}", text)
        path = self.fleet(text)
        pw = os.path.join(self.home, "line-3.password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        certs = Certs()
        certs.setup()
        self.addCleanup(certs.teardown)
        subprocess.run(["cp", certs.path("ca.pem"), os.path.join(self.home, "site-ca.pem")],
                       check=True)
        r = self.dsu("apply", path, "--dry-run", want=1)
        self.assertIn("dsu: line-3: ", r.stderr)
        self.assertIn("dsu: line-4: ", r.stderr)
        self.assertNotIn(path + ":", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
