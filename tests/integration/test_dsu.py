#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dsu against nportsim's management API on 127.0.0.1 (the mDNS search and the
whole flow between network namespaces are in test_dsu_netns.py): info, first
administrator, password rules local and remote, lockout, trust on first use
and a changed certificate, errors for no answer, and map writing a config
realcomd takes, after which data flows through the mapped tty."""
import http.server
import json
import os
import re
import socket
import stat
import subprocess
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import DSU, Certs, DsuCase, Realcomd, Unit, hand_edit, open_tty, talk, wait_for  # noqa: E402

REALCOMD = os.environ.get("REALCOMD", "realcomd")
PASSWORD = "correct horse 1"


class Impostor(http.server.BaseHTTPRequestHandler):
    """Answers as a unit would, with strings no real unit sends: control
    characters, a newline that would start a section in realcom.conf,
    escape sequences.  answers maps a path to (status, body text), or to a
    function that answers the request itself (given this handler)."""
    answers = {}

    def reply(self):
        if callable(self.answers.get(self.path)):
            return self.answers[self.path](self)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = self.answers.get(self.path, (404, '{"error":"not-found"}'))
        data = body.encode("utf-8", "surrogatepass")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = reply

    def log_message(self, *args):
        pass


def impostor_answers(device):
    """A one-port unit that lets anyone log in: GET /device answers the
    JSON text device."""
    return {
        "/api/v1/device": (200, device),
        "/api/v1/auth/login": (200, '{"token":"' + "ab" * 16 + '","expires_in":900}'),
        "/api/v1/auth/logout": (204, ""),
        "/api/v1/serial/ports": (200, '[{"port":1,"mode":"realcom",'
                                      '"connection":"unencrypted","data_port":950,'
                                      '"command_port":966,"tcp_port":4001}]'),
    }


def serve_impostor(certs, answers):
    """An HTTPS server on a free port of 127.0.0.1 in a thread; returns it."""
    handler = type("Answers", (Impostor,), {"answers": answers})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return srv


class Dsu(DsuCase):
    def unit(self, *args, **kw):
        u = Unit(*args, **kw)
        self.units.append(u)
        return u

    def known(self):
        with open(os.path.join(self.home, ".config/realcom/known_devices")) as f:
            return f.read()

    def state(self, u):
        return u.ok(cmd="status")["management"]["state"]

    def setup_unit(self, u):
        self.dsu("setup", u.host, "--user", "admin", password=PASSWORD)

    def test_info_setup_and_trust_on_first_use(self):
        u = self.unit("--factory", "--ports", "2", "--name", "NPort-6150-TEST")
        r = self.dsu("info", u.host)
        self.assertIn("NPort-6150-TEST", r.stdout)
        self.assertIn("needs-setup", r.stdout)
        self.assertIn("dsu setup", r.stdout)
        self.assertIn("pinned on first use", r.stderr)
        fp = re.search(r"certificate (sha256:[0-9A-F:]{95})", r.stderr).group(1)
        self.assertIn(f"{u.host} {fp}", self.known())
        path = os.path.join(self.home, ".config/realcom/known_devices")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        # the API's own fingerprint is the one pinned
        api = u.ok(cmd="status")["management"]["certificate_sha256"]
        self.assertEqual("sha256:" + api, fp)
        # JSON, and no second "pinned" notice
        r = self.dsu("info", u.host, "--json")
        self.assertEqual(json.loads(r.stdout)["state"], "needs-setup")
        self.assertEqual(r.stderr, "")

        # a weak password never leaves the host
        r = self.dsu("setup", u.host, "--user", "admin", password="short", want=1)
        self.assertIn("min_length", r.stderr)
        self.assertIn("before sending", r.stderr)
        self.assertEqual(self.state(u), "needs-setup")
        # from a file readable by others: refused
        pwfile = os.path.join(self.home, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pwfile, 0o644)
        r = self.dsu("setup", u.host, "--user", "admin", "--password-file", pwfile, want=1)
        self.assertIn("chmod 600", r.stderr)
        os.chmod(pwfile, 0o600)
        r = self.dsu("setup", u.host, "--user", "admin", "--password-file", pwfile)
        self.assertIn('administrator "admin" created', r.stdout)
        self.assertEqual(self.state(u), "ready")
        r = self.dsu("setup", u.host, "--user", "admin", "--password-file", pwfile, want=1)
        self.assertIn("already set up", r.stderr)
        # the port modes need a login
        r = self.dsu("info", u.host, "--user", "admin", "--json", password=PASSWORD)
        ports = json.loads(r.stdout)["serial_ports"]
        self.assertEqual([(p["port"], p["mode"]) for p in ports], [(1, "realcom"), (2, "realcom")])
        # no password on argv: no option takes one, and a guess is not read as a file name
        r = self.dsu("setup", u.host, "--user", "admin", "--password", PASSWORD, want=2)
        self.assertIn("never go on the command line", r.stderr)
        self.assertNotIn(PASSWORD, r.stderr)

    def test_device_policy_refusal_is_reported(self):
        u = self.unit("--factory", "--min-password", "16")
        r = self.dsu("setup", u.host, "--user", "admin", password="only12chars!", want=1)
        self.assertIn("the device refused the password", r.stderr)
        self.assertIn("min_length", r.stderr)
        self.assertEqual(self.state(u), "needs-setup")

    def test_wrong_password_then_lockout(self):
        u = self.unit("--factory", "--lockout-failures", "3", "--lockout-seconds", "120")
        self.setup_unit(u)
        for _ in range(3):
            r = self.dsu("info", u.host, "--user", "admin", password="wrong password", want=1)
            self.assertIn("login refused", r.stderr)
        r = self.dsu("info", u.host, "--user", "admin", password=PASSWORD, want=1)
        m = re.search(r"locked out after too many failed logins: try again in (\d+) s", r.stderr)
        self.assertTrue(m, r.stderr)
        self.assertTrue(0 < int(m.group(1)) <= 120, r.stderr)

    def test_changed_certificate_is_refused_until_confirmed(self):
        """The unit moves to a new address and, as a G2 does, makes itself a
        new certificate: dsu refuses it, names it and how to confirm it, and
        changes no pin until --fingerprint does."""
        u = self.unit("--factory")
        self.setup_unit(u)
        old = self.known()
        token = u.login("admin", PASSWORD)
        self.assertEqual(u.request("PUT", "network/ipv4", {"address": "192.0.2.10"},
                                   token=token)[0], 200)
        r = self.dsu("info", u.host, want=1)
        self.assertIn("not the one pinned", r.stderr)
        new = re.search(r"--fingerprint (sha256:[0-9A-F:]{95})", r.stderr).group(1)
        self.assertEqual(new, "sha256:" + u.ok(cmd="status")["management"]["certificate_sha256"])
        self.assertEqual(self.known(), old, "a refused certificate must not change the pins")
        r = self.dsu("info", u.host, "--fingerprint", new)
        self.assertIn("replaced the old pin", r.stderr)
        self.assertIn(f"{u.host} {new}", self.known())
        self.dsu("info", u.host)
        r = self.dsu("info", u.host, "--fingerprint", "sha256:00", want=1)
        self.assertIn("--fingerprint", r.stderr)

    def test_what_a_device_says_is_shown_printable(self):
        """A name with a newline and escape sequences is shown and written as
        one line of printable ASCII; an answer with more than one JSON value,
        or nested too deep, is refused."""
        evil = json.dumps("Evil\n[ttyR9]\nhost = 192.0.2.66\x1b[2J\x07\u009b")
        answers = impostor_answers('{"model":"NPort 6150-G2\\u0000x","serial":"S1",'
                                   '"mac":"00:90:E8:00:00:01","firmware":"1.0","name":'
                                   + evil + ',"ports":1,"state":"ready"}')
        certs = Certs()
        certs.setup()
        srv = serve_impostor(certs, answers)
        try:
            host = f"127.0.0.1:{srv.server_address[1]}"
            r = self.dsu("info", host)
            self.assertIn("Evil?[ttyR9]?host = 192.0.2.66?[2J???", r.stdout)
            self.assertIn("NPort 6150-G2?x", r.stdout)
            for out in (r.stdout, r.stderr):
                self.assertFalse(re.search(r"[\x00-\x09\x0b-\x1f\x7f-\U0010ffff]", out), out)
            conf = os.path.join(self.home, "realcom.conf")
            self.dsu("map", "--yes", host, "--user", "admin", "--ports", "1", "--config", conf,
                     password=PASSWORD)
            with open(conf) as f:
                text = f.read()
            self.assertIn("; dsu map: Evil?[ttyR9]?host = 192.0.2.66?[2J??? (", text)
            self.assertEqual(re.findall(r"^\[(\S+)\]$", text, re.M), ["global", "ttyR0"])
            self.assertNotIn("\nhost = 192.0.2.66", text)
            # the port list in another shape: said so
            answers["/api/v1/serial/ports"] = (200, '{"ports":[]}')
            r = self.dsu("map", "--yes", host, "--user", "admin", "--ports", "1", "--config", conf,
                         password=PASSWORD, want=1)
            self.assertIn("GET /api/v1/serial/ports is not a list of ports", r.stderr)
            # not one JSON value: refused, not half read
            for body in ('{"name":"x"} {"name":"y"}', "[" * 64 + "]" * 64):
                answers["/api/v1/device"] = (200, body)
                r = self.dsu("info", host, want=1)
                self.assertIn("not JSON", r.stderr)
        finally:
            srv.shutdown()
            srv.server_close()
            certs.teardown()

    def test_no_answer_and_unreachable(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)                  # accepts in the kernel, never speaks TLS
            r = self.dsu("info", f"127.0.0.1:{s.getsockname()[1]}", "--timeout", "1", want=1)
            self.assertIn("no answer within 1 s", r.stderr)
            closed = s.getsockname()[1]
        r = self.dsu("info", f"127.0.0.1:{closed}", "--timeout", "2", want=1)
        self.assertIn("unreachable", r.stderr)
        r = self.dsu("info", "bad name!", want=1)
        self.assertIn("not a host name", r.stderr)
        self.dsu("info", want=2)
        self.dsu("frobnicate", want=2)

    def test_map_cert_files_must_exist(self):
        """--cert and --key go into realcom.conf from / (realcomd runs
        there): a file that is not there is refused before anything else."""
        r = self.dsu("map", "127.0.0.1", "--user", "admin", "--ports", "1", "--tls",
                     "--cert", "no-such-client.pem", "--key", "/dev/null", want=2)
        self.assertIn("--cert no-such-client.pem: No such file or directory", r.stderr)

    def test_map_on_a_new_unit_points_at_setup(self):
        """A unit still waiting for its first account: map says so and names
        the command that creates it, asks no password, writes nothing."""
        u = self.unit("--factory")
        conf = os.path.join(self.home, "realcom.conf")
        # no password given: asking for one would fail differently
        r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1", "--config", conf, want=1)
        self.assertIn("waiting for its first administrator", r.stderr)
        self.assertIn(f"dsu setup {u.host} --user NAME", r.stderr)
        self.assertNotIn("wrong user name or password", r.stderr)
        self.assertFalse(os.path.exists(conf))
        self.assertEqual(self.state(u), "needs-setup")
        r = self.dsu("info", u.host, "--user", "admin", want=1)
        self.assertIn(f"dsu setup {u.host} --user NAME", r.stderr)

    def test_error_status_is_printed(self):
        """A GET answered with an error status: the call, the status and
        the unit's own message (printable) on stderr, never a silent exit."""
        busy = (503, '{"error":"busy","message":"restarting\\u001b[2J now"}')
        answers = {
            "/api/v1/device": busy,
            "/api/v1/auth/login": (200, '{"token":"' + "ab" * 16 + '","expires_in":900}'),
            "/api/v1/auth/logout": (204, ""),
        }
        certs = Certs()
        certs.setup()
        srv = serve_impostor(certs, answers)
        try:
            host = f"127.0.0.1:{srv.server_address[1]}"
            conf = os.path.join(self.home, "realcom.conf")
            for args in (["info", host], ["map", host, "--user", "admin", "--ports", "1",
                                          "--config", conf]):
                r = self.dsu(*args, password=PASSWORD, want=1)
                self.assertIn(f"dsu: {host}: GET /api/v1/device: 503 Service Unavailable: "
                              "restarting?[2J now", r.stderr)
            # a later GET, and an answer without JSON
            answers["/api/v1/device"] = (200, '{"model":"NPort 6150-G2","serial":"S1",'
                                              '"mac":"00:90:E8:00:00:01","firmware":"1.1",'
                                              '"name":"x","ports":1,"state":"ready"}')
            answers["/api/v1/serial/ports"] = (500, "<html>oops</html>")
            r = self.dsu("info", host, "--user", "admin", password=PASSWORD, want=1)
            self.assertIn(f"dsu: {host}: GET /api/v1/serial/ports: 500 Internal Server Error: "
                          "no reason given", r.stderr)
        finally:
            srv.shutdown()
            srv.server_close()
            certs.teardown()

    def test_longest_names_make_valid_sections(self):
        """The longest name and model nportsim allows, and far longer ones from
        a unit we do not know the limits of: dsu map writes sections that
        realcomd -t takes."""
        u = self.unit("--factory", "--ports", "2", "--name", "N" * 63,
                      "--model", "NPort 6150-G2 " + "M" * 17)
        self.setup_unit(u)
        conf = os.path.join(self.home, "realcom.conf")
        self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config", conf,
                 password=PASSWORD)
        with open(conf) as f:
            self.assertIn("N" * 63, f.read())
        answers = impostor_answers('{"model":"' + "M" * 300 + '","serial":"S1",'
                                   '"mac":"00:90:E8:00:00:01","firmware":"1.1","name":"'
                                   + "L" * 1000 + '","ports":1,"state":"ready"}')
        certs = Certs()
        certs.setup()
        srv = serve_impostor(certs, answers)
        try:
            host = f"127.0.0.1:{srv.server_address[1]}"
            # another file: the impostor is on 127.0.0.1 too
            conf = os.path.join(self.home, "impostor.conf")
            self.dsu("map", "--yes", host, "--user", "admin", "--ports", "1", "--config", conf,
                     password=PASSWORD)
        finally:
            srv.shutdown()
            srv.server_close()
            certs.teardown()
        with open(conf) as f:
            text = f.read()
        self.assertEqual(re.findall(r"^\[(\S+)\]$", text, re.M), ["global", "ttyR0"])
        self.assertIn("; dsu map: " + "L" * 61 + "... (" + "M" * 29 + "..., 00:90:E8:00:00:01)",
                      text)
        for path in (os.path.join(self.home, "realcom.conf"), conf):
            r = subprocess.run([REALCOMD, "-t", "-c", path], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_timeout_is_the_whole_wait(self):
        """A listener that completes the TLS handshake and then never
        answers: --timeout 2 ends the call within a bound, and says so."""
        certs = Certs()
        certs.setup()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.path("server.pem"), certs.path("server.key"))
        held = []
        stop = threading.Event()
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        lsock.settimeout(0.1)

        def silent():
            for _ in range(600):                 # bounded: at most about 60 s
                if stop.is_set():
                    return
                try:
                    c, _ = lsock.accept()
                except socket.timeout:
                    continue
                try:
                    c.settimeout(5)
                    held.append(ctx.wrap_socket(c, server_side=True))
                except (OSError, ssl.SSLError):
                    c.close()

        t = threading.Thread(target=silent, daemon=True)
        t.start()
        try:
            start = time.monotonic()
            r = self.dsu("info", f"127.0.0.1:{lsock.getsockname()[1]}", "--timeout", "2",
                         want=1)
            took = time.monotonic() - start
            self.assertIn("no answer within 2 s", r.stderr)
            self.assertTrue(held, "the handshake was completed, the request not answered")
            self.assertLess(took, 3.5, r.stderr)
        finally:
            stop.set()
            t.join(5)
            for c in held:
                c.close()
            lsock.close()
            certs.teardown()

    def records(self, path=None):
        """The backup record as {MAC: (seconds, path)}, and its lines."""
        path = path or os.path.join(self.home, ".local/state/realcom/backups")
        with open(path) as f:
            lines = f.read().splitlines()
        out = {}
        for line in lines:
            if line and not line.startswith("#"):
                mac, when, saved = line.split(" ", 2)
                out[mac] = (int(when), saved)
        return out, lines

    def test_backup(self):
        """One unit to a file, several to a directory named by MAC: each
        file the export with the unit's identity and time, mode 0600 and
        without a password; each recorded as the unit's last backup."""
        a = self.unit("--factory", "--ports", "2")
        b = self.unit("--factory", "--ports", "1")
        for u in (a, b):
            self.setup_unit(u)
        token = a.login("admin", PASSWORD)
        self.assertEqual(a.request("PUT", "security/services", {"snmp": True},
                                   token=token)[0], 200)
        mac_a, mac_b = (u.request("GET", "device")[1]["mac"] for u in (a, b))
        # an older file with a wider mode is replaced, not reused
        out = os.path.join(self.home, "a.json")
        with open(out, "w") as f:
            f.write("old")
        os.chmod(out, 0o644)
        before = int(time.time())
        r = self.dsu("backup", a.host, "--user", "admin", "-o", out, password=PASSWORD)
        self.assertEqual(r.stdout, f"{a.host}\t{mac_a}\t{out}\n")
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            text = f.read()
        self.assertNotIn(PASSWORD, text)
        saved = json.loads(text)
        self.assertEqual(saved["unit"]["mac"], mac_a)
        self.assertEqual(saved["host"], a.host)
        self.assertTrue(before <= saved["saved_at"] <= time.time())
        self.assertEqual(saved["config"]["mac"], mac_a)
        self.assertTrue(saved["config"]["settings"]["services"]["snmp"])
        rec, _ = self.records()
        self.assertEqual(rec, {mac_a: (saved["saved_at"], out)})
        state = os.path.join(self.home, ".local/state/realcom/backups")
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(state)).st_mode), 0o700)

        # several units into a directory (relative: recorded absolute); another
        # line in the record stays, each unit keeps one line
        with open(state, "a") as f:
            f.write("00:90:E8:00:00:99 1 /elsewhere/x.json\n")
        os.mkdir(os.path.join(self.home, "saved"))
        r = self.dsu("backup", a.host, b.host, "--user", "admin", "-o", "saved",
                     password=PASSWORD, cwd=self.home)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        self.assertEqual(r.stderr, "", "quiet when not on a terminal")
        rec, lines = self.records()
        for mac in (mac_a, mac_b):
            path = os.path.join(self.home, "saved", mac.replace(":", "-") + ".json")
            self.assertEqual(rec[mac][1], path)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                self.assertEqual(json.load(f)["unit"]["mac"], mac)
        self.assertEqual(rec["00:90:E8:00:00:99"], (1, "/elsewhere/x.json"))
        self.assertEqual(len(lines), 3, lines)

        # $XDG_STATE_HOME wins over ~/.local/state
        xdg = os.path.join(self.home, "xdg")
        self.dsu("backup", b.host, "--user", "admin", "-o", out, password=PASSWORD,
                 env={"XDG_STATE_HOME": xdg})
        rec, _ = self.records(os.path.join(xdg, "realcom/backups"))
        self.assertEqual(list(rec), [mac_b])

    def test_backup_refusals(self):
        """Usage, an operator, a new unit, an unreachable unit among others:
        each said, nothing recorded for a unit not saved."""
        accounts = os.path.join(self.home, "accounts")
        with open(accounts, "w") as f:
            f.write(f"admin:{PASSWORD}:admin\nop:{PASSWORD}:operator\n")
        os.chmod(accounts, 0o600)
        u = self.unit("--accounts", accounts)
        new = self.unit("--factory")
        out = os.path.join(self.home, "one.json")
        r = self.dsu("backup", u.host, new.host, "--user", "admin", "-o", out, want=2)
        self.assertIn("no such directory", r.stderr)
        with open(out, "w"):
            pass
        r = self.dsu("backup", u.host, new.host, "--user", "admin", "-o", out, want=2)
        self.assertIn("a directory", r.stderr)
        self.dsu("backup", u.host, want=2)            # no --user
        r = self.dsu("backup", u.host, "--user", "op", "-o", out, password=PASSWORD, want=1)
        self.assertIn('GET /api/v1/system/config: "op" may not do this: it needs an '
                      'administrator', r.stderr)
        r = self.dsu("backup", new.host, "--user", "admin", "-o", out, password=PASSWORD,
                     want=1)
        self.assertIn("dsu setup", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.home, ".local/state/realcom/backups")))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"127.0.0.1:{s.getsockname()[1]}"
        r = self.dsu("backup", closed, u.host, "--user", "admin", "-o", self.home,
                     password=PASSWORD, want=1)
        self.assertIn("unreachable", r.stderr)
        self.assertIn("1 of 2 units not saved", r.stderr)
        rec, _ = self.records()
        self.assertEqual(list(rec), [u.request("GET", "device")[1]["mac"]])

    def test_map_shows_and_asks(self):
        """dsu map shows the sections it will write (a changed one as its lines
        now and then), asks on a terminal, refuses without one unless --yes,
        and neither asks nor writes when the file has them already."""
        u = self.unit("--factory", "--ports", "2")
        self.setup_unit(u)
        conf = os.path.join(self.home, "realcom.conf")
        with open(conf, "w") as f:
            f.write("[global]\n; kept\n")
        args = ["map", u.host, "--user", "admin", "--ports", "1", "--config", conf]
        # no terminal, no --yes: shown, refused, the file as it was
        r = self.dsu(*args, password=PASSWORD, want=1)
        self.assertIn(f"Writing to {conf}:\n+ [ttyR0]\n+ ; dsu map: ", r.stdout)
        self.assertIn("+ protocol = realcom\n", r.stdout)
        self.assertIn("not on a terminal: add --yes to write it", r.stderr)
        with open(conf) as f:
            self.assertEqual(f.read(), "[global]\n; kept\n")
        # on a terminal: "n" changes nothing, "y" writes
        for answer, want in ((b"n\n", 1), (b"y\n", 0)):
            master, slave = os.openpty()
            try:
                os.write(master, answer)
                p = subprocess.run([DSU, *args], stdin=slave, capture_output=True, text=True,
                                   timeout=60, env={"HOME": self.home, "DSU_PASSWORD": PASSWORD})
            finally:
                os.close(master)
                os.close(slave)
            self.assertEqual(p.returncode, want, p.stdout + p.stderr)
            self.assertIn("Write 1 section? [y/N]", p.stderr)
            with open(conf) as f:
                self.assertEqual("[ttyR0]" in f.read(), want == 0)
        with open(conf) as f:
            text = f.read()
        self.assertTrue(text.startswith("[global]\n; kept\n"), text)
        # the same again: nothing to change, no question even without a terminal
        r = self.dsu(*args, password=PASSWORD)
        self.assertIn("nothing to change", r.stdout)
        self.assertNotIn("Writing to", r.stdout)
        with open(conf) as f:
            self.assertEqual(f.read(), text)
        # a section the unit no longer matches: its lines now and then, written with --yes
        data_port = re.search(r"^data_port = (\d+)$", text, re.M).group(1)
        stale = text.replace(f"data_port = {data_port}\n", "data_port = 1\n")
        with open(conf, "w") as f:
            f.write(stale)
        r = self.dsu(*args, password=PASSWORD, want=1)
        self.assertIn("- data_port = 1\n", r.stdout)
        self.assertIn(f"+ data_port = {data_port}\n", r.stdout)
        with open(conf) as f:
            self.assertEqual(f.read(), stale)
        self.dsu(*args, "--yes", password=PASSWORD)
        with open(conf) as f:
            self.assertEqual(f.read(), text)

    def test_list_and_unmap(self):
        """dsu list shows what realcom.conf maps and realcomd's state; dsu
        unmap removes sections by tty or host, keeping comments and other
        sections, asks on a terminal, refuses without one unless --yes, and
        reloads realcomd (or says it is not running)."""
        u = self.unit("--factory", "--ports", "3")
        self.setup_unit(u)
        with Realcomd({}) as rc:
            conf = rc.path("realcom.conf")
            self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-3", "--config", conf,
                     password=PASSWORD)
            text = hand_edit(conf)
            rc.ctl(cmd="reload")
            wait_for(lambda: rc.port(7), "ttyR7 in realcomd")

            r = self.dsu("list", "--config", conf)
            rows = [line.split() for line in r.stdout.splitlines()]
            self.assertEqual(rows[0], ["TTY", "HOST", "PORT", "PROTOCOL", "STATE", "TLS"])
            self.assertEqual([row[:4] for row in rows[1:]],
                             [["ttyR0", "127.0.0.1", "1", "realcom"],
                              ["ttyR1", "127.0.0.1", "2", "realcom"],
                              ["ttyR2", "127.0.0.1", "3", "realcom"],
                              ["ttyR7", "192.0.2.77", "2", "realcom"]])
            for row in rows[1:]:
                self.assertEqual(row[4], rc.port(int(row[0][4:]))["state"])
                self.assertEqual(row[5], "-")
            listed = json.loads(self.dsu("list", "--config", conf, "--json").stdout)
            self.assertEqual(listed[0]["path"], rc.tty(0))
            self.assertEqual([e["tty"] for e in listed], ["ttyR0", "ttyR1", "ttyR2", "ttyR7"])

            # no terminal, no --yes: refused, the file as it was
            r = self.dsu("unmap", "ttyR0", "--config", conf, want=1)
            self.assertIn("add --yes", r.stderr)
            self.assertIn("- [ttyR0]", r.stdout)
            with open(conf) as f:
                self.assertEqual(f.read(), text)
            # on a terminal: "n" changes nothing, "y" removes
            for answer, want in ((b"n\n", 1), (b"y\n", 0)):
                master, slave = os.openpty()
                try:
                    os.write(master, answer)
                    p = subprocess.run([DSU, "unmap", "/dev/ttyR0", "--config", conf],
                                       stdin=slave, capture_output=True, text=True,
                                       timeout=60, env={"HOME": self.home})
                finally:
                    os.close(master)
                    os.close(slave)
                self.assertEqual(p.returncode, want, p.stderr)
                self.assertIn("Remove 1 section? [y/N]", p.stderr)
            self.assertIn("realcomd reloaded", p.stderr)
            wait_for(lambda: rc.port(0) is None, "realcomd to drop ttyR0")
            with open(conf) as f:
                now = f.read()
            self.assertNotIn("[ttyR0]", now)
            self.assertIn("; ttyR1: the label printer\n[ttyR1]", now)
            self.assertEqual(now, text[:text.index("[ttyR0]")] + text[text.index("; ttyR1"):])

            # by host: every section of it, the other unit's stays
            r = self.dsu("unmap", u.host, "--config", conf, "--yes")
            self.assertIn("- [ttyR1]", r.stdout)
            self.assertIn("- [ttyR2]", r.stdout)
            wait_for(lambda: rc.port(1) is None and rc.port(2) is None, "ttyR1, ttyR2 gone")
            with open(conf) as f:
                now = f.read()
            self.assertEqual(re.findall(r"^\[(\S+)\]$", now, re.M), ["global", "ttyR7"])
            self.assertIn("; ttyR1: the label printer\n", now)
            self.assertIn("; the scale, by hand\n[ttyR7]", now)
            r = subprocess.run([REALCOMD, "-t", "-c", conf], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for arg, why in (("ttyR0", "nothing in"), ("192.0.2.99", "maps 192.0.2.99"),
                             ("bad host!", "neither ttyR<N> nor a host")):
                r = self.dsu("unmap", arg, "--config", conf, "--yes", want=1)
                self.assertIn(why, r.stderr)
            with open(conf) as f:
                self.assertEqual(f.read(), now)
            self.dsu("unmap", "--config", conf, want=2)
        # realcomd gone: list says so, unmap still writes and says nothing reloaded
        conf = os.path.join(self.home, "realcom.conf")
        with open(conf, "w") as f:
            f.write(now.replace(f"control_socket = {rc.path('control')}",
                                f"control_socket = {os.path.join(self.home, 'control')}"))
        r = self.dsu("list", "--config", conf)
        self.assertIn("realcomd not running", r.stderr)
        self.assertIn("not running", r.stdout.splitlines()[1])
        r = self.dsu("unmap", "ttyR7", "--config", conf, "--yes")
        self.assertIn("realcomd is not running", r.stderr)
        self.assertIn("nothing reloaded", r.stderr)
        with open(conf) as f:
            self.assertNotIn("[ttyR7]", f.read())

    def test_map_remembers_the_unit(self):
        """map writes the unit's MAC into each section; the same unit under
        another host string is refused, naming the tty it has; list --check
        says whether the unit at each host is still the one mapped."""
        certs = Certs()
        certs.setup()
        try:
            tls = ("--cert", certs.path("server.pem"), "--key", certs.path("server.key"))
            u = self.unit("--factory", "--ports", "2", "--mac", "00:90:E8:00:00:0A", *tls)
            self.setup_unit(u)
            mac = u.request("GET", "device")[1]["mac"]
            with Realcomd({}) as rc:
                conf = rc.path("realcom.conf")
                self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config", conf,
                         password=PASSWORD)
                with open(conf) as f:
                    text = f.read()
                self.assertEqual(text.count(f"\nmac = {mac.upper()}\n"), 2, text)
                wait_for(lambda: rc.port(0) and rc.port(1), "realcomd to take both")
                # the same unit by another name: no second tty for its port
                other = f"localhost:{u.https_port}"
                r = self.dsu("map", "--yes", other, "--user", "admin", "--ports", "2", "--config", conf,
                             password=PASSWORD, want=1)
                self.assertIn(f"this unit (MAC {mac.upper()}) is mapped already as 127.0.0.1",
                              r.stderr)
                self.assertIn("port 2 is ttyR1", r.stderr)
                with open(conf) as f:
                    self.assertEqual(f.read(), text)
                # the same host again is the same sections
                self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config", conf,
                         password=PASSWORD)
                with open(conf) as f:
                    self.assertEqual(f.read(), text)

                # list: the MAC; --check asks the unit
                listed = json.loads(self.dsu("list", "--config", conf, "--json").stdout)
                self.assertEqual([e["mac"] for e in listed], [mac.upper()] * 2)
                r = self.dsu("list", "--config", conf, "--check")
                rows = [line.split() for line in r.stdout.splitlines()]
                self.assertEqual(rows[0][5], "UNIT")
                self.assertEqual([row[5] for row in rows[1:]], ["same", "same"])
                self.dsu("list", "--config", conf, "--timeout", "3", want=2)

                # another unit answers at that address now (same certificate, other MAC)
                port = u.https_port
                u.close()
                self.units.remove(u)
                v = self.unit("--https-port", str(port), "--ports", "2",
                              "--mac", "00:90:E8:00:00:0B", *tls)
                vmac = v.request("GET", "device")[1]["mac"]
                self.assertNotEqual(vmac, mac)
                r = self.dsu("list", "--config", conf, "--check", "--json", want=1)
                self.assertEqual([e["unit"] for e in json.loads(r.stdout)],
                                 [f"other:{vmac.upper()}"] * 2)
                self.assertIn(f"the unit mapped (MAC {mac.upper()}) is not at 127.0.0.1", r.stderr)
                # nobody there: unreachable, which is no finding
                v.close()
                self.units.remove(v)
                r = self.dsu("list", "--config", conf, "--check", "--timeout", "2")
                self.assertEqual([line.split()[5] for line in r.stdout.splitlines()[1:]],
                                 ["unreachable"] * 2)
        finally:
            certs.teardown()

    def test_search_without_avahi_says_so(self):
        # no avahi-daemon in the root namespace, ever: dsu must say what is missing
        r = self.dsu("search", "--timeout", "1", want=1)
        self.assertIn("avahi-daemon", r.stderr)

    def map_and_talk(self, u, rc, *extra):
        conf = rc.path("realcom.conf")
        r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config", conf,
                     *extra, password=PASSWORD)
        # what it writes, then each tty where realcomd made it
        self.assertIn("+ [ttyR0]\n", r.stdout)
        lines = [ln for ln in r.stdout.splitlines() if "\tport " in ln]
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertTrue(lines[0].startswith(rc.path("dev/ttyR0") + "\tport 1\trealcom"), r.stdout)
        with open(conf) as f:
            text = f.read()
        self.assertIn("[ttyR0]", text)
        self.assertIn("[ttyR1]", text)
        self.assertIn(f"data_port = {u.data_port(2)}", text)
        # realcomd took it: both ports are there, and data flows on port 1
        wait_for(lambda: rc.port(0) and rc.port(1), "ttyR0 and ttyR1 in realcomd")
        wait_for(lambda: os.path.exists(rc.tty(0)), "the ttyR0 link")
        app = open_tty(rc.tty(0))
        dev = u.open_pty(1)
        try:
            talk(app, dev, b"via dsu map", b"and back")
            # read while the tty is open: a port that connects on open drops
            # its connection, and what it knew of it, once the tty is closed
            status = rc.port(0)
        finally:
            os.close(app)
            os.close(dev)
        return text, status

    def test_map(self):
        u = self.unit("--factory", "--ports", "3")
        self.setup_unit(u)
        with Realcomd({}) as rc:
            text, _ = self.map_and_talk(u, rc)
            self.assertNotIn("tls", text)
            conf = rc.path("realcom.conf")
            # again: the same sections, no duplicates
            self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config", conf,
                     password=PASSWORD)
            with open(conf) as f:
                self.assertEqual(f.read(), text)
            # a tty that maps something else is not taken over
            r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "3", "--first-tty", "1",
                         "--config", conf, password=PASSWORD, want=1)
            self.assertIn("ttyR1 already maps 127.0.0.1 port 2", r.stderr)
            # what the device says wins over what is asked
            for args, why in ((["--tls"], "unencrypted on the device"),
                              (["--protocol", "rfc2217"], "runs realcom on the device"),
                              (["--ports", "4"], "no port 4")):
                ports = [] if "--ports" in args else ["--ports", "3"]
                r = self.dsu("map", "--yes", u.host, "--user", "admin", "--config", conf, *ports, *args,
                             password=PASSWORD, want=1)
                self.assertIn(why, r.stderr)
            with open(conf) as f:
                self.assertEqual(f.read(), text, "a refused map must leave the file alone")
            # realcomd cannot make the new tty: the map stands, realcomd's answer is shown
            os.makedirs(rc.path("dev/ttyR5/in-the-way"))
            r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "3", "--first-tty", "5",
                         "--config", conf, password=PASSWORD)
            self.assertIn("realcomd reloaded with errors", r.stderr)
            self.assertIn("not set up (see the log): ttyR5", r.stderr)
            self.assertIn("ttyR5\tport 3", r.stdout)

    def test_map_with_tls_follows_a_new_certificate(self):
        """Ports mapped with --tls on a unit with its own certificate; the
        unit's address changes and so does its certificate: realcomd refuses
        the unit by its pin, and after the new fingerprint is confirmed a
        map again gives realcomd the new pin and data flows."""
        u = self.unit("--factory", "--ports", "2")
        self.setup_unit(u)
        token = u.login("admin", PASSWORD)
        for n in (1, 2):
            st, b, _ = u.request("PUT", f"serial/ports/{n}", {"connection": "encrypted"},
                                 token=token)
            self.assertEqual(st, 200, b)
        with Realcomd({}) as rc:
            text, status = self.map_and_talk(u, rc, "--tls")
            self.assertIn("verified by pin", status["tls_info"])
            self.assertEqual(u.request("PUT", "network/ipv4", {"address": "192.0.2.10"},
                                       token=token)[0], 200)
            app = open_tty(rc.tty(0))
            try:
                p = wait_for(lambda: "not the pinned one" in rc.port(0)["last_error"]
                             and rc.port(0), "realcomd to refuse the new certificate")
                self.assertNotEqual(p["state"], "up")
            finally:
                os.close(app)
            r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1-2", "--config",
                         rc.path("realcom.conf"), "--tls", password=PASSWORD, want=1)
            self.assertIn("not the one pinned", r.stderr)
            new = re.search(r"--fingerprint (sha256:[0-9A-F:]{95})", r.stderr).group(1)
            self.assertNotIn(new, text)
            text, status = self.map_and_talk(u, rc, "--tls", "--fingerprint", new)
            self.assertIn(f"tls_fingerprint = {new}\n", text)
            self.assertIn("verified by pin", status["tls_info"])

    def test_map_with_tls_pins_the_device_certificate(self):
        certs = Certs()
        certs.setup()
        try:
            u = self.unit("--factory", "--ports", "2", "--tls", "on", "--cert",
                          certs.path("server.pem"), "--key", certs.path("server.key"))
            self.setup_unit(u)
            with Realcomd({}) as rc:
                r = self.dsu("map", "--yes", u.host, "--user", "admin", "--ports", "1", "--config",
                             rc.path("realcom.conf"), password=PASSWORD, want=1)
                self.assertIn("add --tls", r.stderr)
                text, status = self.map_and_talk(u, rc, "--tls")
                fp = re.search(rf"{re.escape(u.host)} (sha256:\S+)", self.known()).group(1)
                self.assertIn(f"tls = on\ntls_fingerprint = {fp}\n", text)
                self.assertIn("verified by pin", status["tls_info"])
        finally:
            certs.teardown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
