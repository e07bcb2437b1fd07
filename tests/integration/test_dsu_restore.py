#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dsu restore and dsu replace against nportsim on 127.0.0.1: a backup put
back (what changes shown first, asked on a terminal, --yes otherwise; the
address and identity never copied; another model refused unless --force),
and a unit replaced by another while an application holds its tty open:
realcom.conf moved to the new unit's ports, realcomd reloaded, data through
the same tty; OLD gone but backed up, OLD gone without a backup, the same
unit twice."""
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import Realcomd, Unit, hand_edit, open_tty, talk, wait_for  # noqa: E402

DSU = os.environ.get("DSU", "dsu")
REALCOMD = os.environ.get("REALCOMD", "realcomd")
PASSWORD = "correct horse 1"
OTHER_MODEL = "NPort 6250-G2"


class DsuRestore(unittest.TestCase):
    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="dsu-restore-test-")
        self.accounts = os.path.join(self.home, "accounts")
        with open(self.accounts, "w") as f:
            f.write(f"admin:{PASSWORD}:admin\n")
        os.chmod(self.accounts, 0o600)
        self.units = []

    def tearDown(self):
        for u in self.units:
            u.close()
        subprocess.run(["rm", "-rf", self.home])

    def unit(self, *args):
        u = Unit("--accounts", self.accounts, "--ports", "2", *args, ports=2)
        self.units.append(u)
        return u

    def dsu(self, *args, want=0, stdin=subprocess.DEVNULL):
        env = {"HOME": self.home, "PATH": "/usr/bin:/bin", "DSU_PASSWORD": PASSWORD}
        r = subprocess.run([DSU, *args], capture_output=True, text=True, env=env, timeout=60,
                           stdin=stdin, cwd=self.home)
        if want is not None:
            self.assertEqual(r.returncode, want, f"dsu {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r

    def on_terminal(self, answer, *args):
        """dsu with a terminal on stdin that has answer typed into it."""
        master, slave = os.openpty()
        try:
            os.write(master, answer)
            return self.dsu(*args, want=None, stdin=slave)
        finally:
            os.close(master)
            os.close(slave)

    def export(self, u):
        token = u.login("admin", PASSWORD)
        st, body, _ = u.request("GET", "system/config", token=token)
        self.assertEqual(st, 200, body)
        return body

    def put(self, u, path, body):
        st, answer, _ = u.request("PUT", path, body, token=u.login("admin", PASSWORD))
        self.assertEqual(st, 200, answer)

    def backup(self, host, out):
        self.dsu("backup", host, "--user", "admin", "-o", out)
        with open(out) as f:
            return json.load(f)

    def write_backup(self, path, saved):
        with open(path, "w") as f:
            json.dump(saved, f)
        os.chmod(path, 0o600)

    def record(self):
        path = os.path.join(self.home, ".local/state/realcom/backups")
        with open(path) as f:
            return {line.split(" ")[0]: line.split(" ", 2)[2] for line in f.read().splitlines()}

    def test_restore(self):
        u = self.unit()
        file = os.path.join(self.home, "u.json")
        saved = self.backup(u.host, file)
        settings = saved["config"]["settings"]
        snmp = settings["services"]["snmp"]
        address = settings["network"]["address"]
        mac = u.request("GET", "device")[1]["mac"]
        # the file as a user may have it: an address the unit must not take,
        # and identity the unit would refuse if it were sent (longer than it takes)
        saved["config"]["settings"]["network"]["address"] = "192.0.2.55"
        saved["config"]["mac"] = "00:90:E8:FF:FF:FF" + "-not-sent" * 4
        saved["config"]["serial"] = "X" * 80
        self.write_backup(file, saved)
        self.put(u, "security/services", dict(settings["services"], snmp=not snmp))
        self.put(u, "security/login-message", {"text": "changed since"})
        changed = self.export(u)

        want = [f"settings.login_message.text: \"changed since\" -> "
                f"{json.dumps(settings['login_message']['text'])}",
                f"settings.services.snmp: {json.dumps(not snmp)} -> {json.dumps(snmp)}"]
        # --dry-run: the changes in order, nothing sent
        r = self.dsu("restore", u.host, file, "--user", "admin", "--dry-run")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[1:], want, r.stdout)
        self.assertNotIn("network", r.stdout)
        self.assertNotIn("mac", r.stdout)
        self.assertEqual(self.export(u)["settings"], changed["settings"])
        # no terminal, no --yes: refused after the same display, nothing sent
        r = self.dsu("restore", u.host, file, "--user", "admin", want=1)
        self.assertEqual(r.stdout.splitlines()[1:], want)
        self.assertIn("add --yes", r.stderr)
        self.assertEqual(self.export(u)["settings"], changed["settings"])
        # on a terminal: "n" changes nothing
        r = self.on_terminal(b"n\n", "restore", u.host, file, "--user", "admin")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Change these settings? [y/N]", r.stderr)
        self.assertEqual(self.export(u)["settings"], changed["settings"])

        # "y": the settings are back, the address and identity are the unit's own
        r = self.on_terminal(b"y\n", "restore", u.host, file, "--user", "admin")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 settings restored", r.stdout)
        now = self.export(u)
        self.assertEqual(now["settings"]["services"]["snmp"], snmp)
        self.assertEqual(now["settings"]["login_message"], settings["login_message"])
        self.assertEqual(now["settings"]["network"]["address"], address)
        self.assertEqual(now["mac"], mac)
        self.assertEqual(u.request("GET", "device")[1]["mac"], mac)
        # again: nothing to change, nothing asked
        r = self.dsu("restore", u.host, file, "--user", "admin")
        self.assertEqual(r.stdout.splitlines()[1:], ["nothing to change"])

        # --network copies the address (the unit then makes a new certificate:
        # dsu is cut off from it, which is why this is not the default); the
        # display is enough to show it would be sent
        r = self.dsu("restore", u.host, file, "--user", "admin", "--network", "--dry-run")
        self.assertEqual(r.stdout.splitlines()[1:],
                         [f"settings.network.address: \"{address}\" -> \"192.0.2.55\""])

    def test_restore_refusals(self):
        u = self.unit()
        file = os.path.join(self.home, "u.json")
        saved = self.backup(u.host, file)
        snmp = saved["config"]["settings"]["services"]["snmp"]
        saved["config"]["settings"]["services"]["snmp"] = not snmp
        saved["config"]["model"] = saved["unit"]["model"] = OTHER_MODEL
        other = os.path.join(self.home, "other.json")
        self.write_backup(other, saved)
        model = u.request("GET", "device")[1]["model"]
        r = self.dsu("restore", u.host, other, "--user", "admin", "--yes", want=1)
        self.assertIn(f'a backup of an "{OTHER_MODEL}", this unit is an "{model}"', r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.export(u)["settings"]["services"]["snmp"], snmp)
        # --force: sent all the same, each setting checked by the unit
        r = self.dsu("restore", u.host, other, "--user", "admin", "--yes", "--force")
        self.assertIn("settings.services.snmp", r.stdout)
        self.assertEqual(self.export(u)["settings"]["services"]["snmp"], not snmp)

        # what the unit refuses is named with its answer: a port it does not have
        saved["config"]["model"] = model
        saved["config"]["settings"]["serial_ports"].append(
            {"port": 3, "mode": "realcom", "connection": "unencrypted"})
        self.write_backup(other, saved)
        r = self.dsu("restore", u.host, other, "--user", "admin", "--yes", want=1)
        self.assertIn(f"dsu: {u.host}: PUT /api/v1/system/config: 422 Unprocessable Content: ",
                      r.stderr)
        self.assertIn("no port 3", r.stderr)

        with open(os.path.join(self.home, "junk.json"), "w") as f:
            f.write('{"format": "something else"}')
        r = self.dsu("restore", u.host, "junk.json", "--user", "admin", want=1)
        self.assertIn("not a backup made by dsu backup", r.stderr)
        self.dsu("restore", u.host, "--user", "admin", want=2)
        self.dsu("restore", u.host, file, want=2)
        self.dsu("restore", u.host, file, "x", "--user", "admin", want=2)

    def conf_with_old(self, rc_dir, old, control, *map_args):
        """realcom.conf mapping both of old's ports (as "localhost", so that
        OLD's sections differ from NEW's, which is 127.0.0.1), with a
        comment of the user's and a section of another unit."""
        conf = os.path.join(rc_dir, "realcom.conf")
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write(f"[global]\nbackend = pty\npty_dir = {rc_dir}/dev\n"
                        f"control_socket = {control}\n")
        self.dsu("map", "--yes", f"localhost:{old.https_port}", "--user", "admin", "--ports", "1-2",
                 "--config", conf, *map_args)
        return conf, hand_edit(conf)

    def check_moved(self, conf, before, old, new, pins=None):
        """conf is before with OLD's sections pointing at NEW, nothing else;
        pins: OLD's and NEW's certificate fingerprints, for sections with TLS."""
        new_mac = new.request("GET", "device")[1]["mac"]
        old_mac = old.request("GET", "device")[1]["mac"] if old.proc else None
        with open(conf) as f:
            text = f.read()
        want = before
        for n in (1, 2):
            want = want.replace(f"data_port = {old.data_port(n)}\n",
                                f"data_port = {new.data_port(n)}\n")
            want = want.replace(f"command_port = {old.command_port(n)}\n",
                                f"command_port = {new.command_port(n)}\n")
        want = want.replace("host = localhost\n", "host = 127.0.0.1\n")
        # the unit's MAC, as dsu map records it: now the new one's
        self.assertEqual(len(re.findall(r"^mac = ", want, re.M)), 2, want)
        want = re.sub(r"^mac = .*$", f"mac = {new_mac.upper()}", want, flags=re.M)
        if pins:
            self.assertEqual(want.count(f"tls_fingerprint = {pins[0]}\n"), 2)
            want = want.replace(f"tls_fingerprint = {pins[0]}\n",
                                f"tls_fingerprint = {pins[1]}\n")
        # dsu map's comment names the unit: now the new one
        want = re.sub(r"; dsu map: .*\) port (\d)\n",
                      lambda m: f"; dsu map: {new.request('GET', 'device')[1]['name']} "
                      f"(NPort 6150-G2, {new_mac}) port {m.group(1)}\n", want)
        self.assertEqual(text, want)
        if old_mac:
            self.assertNotIn(old_mac, text)
        self.assertIn("; ttyR1: the label printer\n[ttyR1]", text)
        self.assertIn("; the scale, by hand\n[ttyR7]\nhost = 192.0.2.77\n", text)
        r = subprocess.run([REALCOMD, "-t", "-c", conf], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return text

    def test_replace_while_the_tty_is_open(self):
        old = self.unit("--mac", "00:90:E8:00:00:01")
        new = self.unit("--mac", "00:90:E8:00:00:02")
        old_host = f"localhost:{old.https_port}"
        self.put(old, "security/login-message", {"text": "authorized use only"})
        with Realcomd({}) as rc:
            conf, before = self.conf_with_old(rc.dir, old, rc.path("control"))
            rc.ctl(cmd="reload")
            wait_for(lambda: rc.port(0) and rc.port(1) and rc.port(7), "the ttys in realcomd")
            wait_for(lambda: os.path.exists(rc.tty(0)), "the ttyR0 link")
            app = open_tty(rc.tty(0))
            dev = old.open_pty(1)
            try:
                talk(app, dev, b"to old", b"from old")
            finally:
                os.close(dev)
            try:
                r = self.dsu("replace", old_host, new.host, "--user", "admin", "--config",
                             conf, "--yes", "-o", self.home)
                self.assertIn(f"Replacing {old_host} (00:90:E8:00:00:01) by {new.host} "
                              f"(00:90:E8:00:00:02)", r.stdout)
                self.assertIn("settings.login_message.text: \"\" -> \"authorized use only\"",
                              r.stdout)
                self.assertIn("realcomd reloaded", r.stderr)
                self.check_moved(conf, before, old, new)
                # OLD's backup saved and recorded, as dsu backup does
                path = self.record()["00:90:E8:00:00:01"]
                self.assertEqual(path, os.path.join(self.home, "00-90-E8-00-00-01.json"))
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                with open(path) as f:
                    self.assertEqual(json.load(f)["host"], old_host)
                self.assertEqual(self.export(new)["settings"]["login_message"]["text"],
                                 "authorized use only")
                self.assertNotEqual(self.export(new)["settings"]["name"], "")
                # the application's open tty now reaches NEW
                wait_for(lambda: new.port(1)["connected"], "realcomd to connect to NEW")
                dev = new.open_pty(1)
                try:
                    talk(app, dev, b"to new", b"from new")
                finally:
                    os.close(dev)
                self.assertEqual(rc.port(0)["path"], rc.tty(0))
            finally:
                os.close(app)

    def test_replace_an_unreachable_unit_from_its_backup(self):
        old = self.unit("--mac", "00:90:E8:00:00:01")
        new = self.unit("--mac", "00:90:E8:00:00:02")
        old_host = f"localhost:{old.https_port}"
        self.put(old, "system/sntp", {"enabled": True, "servers": ["192.0.2.123"]})
        # encrypted ports: the sections pin OLD's certificate, and will pin NEW's
        for n in (1, 2):
            st, b, _ = old.request("PUT", f"serial/ports/{n}", {"connection": "encrypted"},
                                   token=old.login("admin", PASSWORD))
            self.assertEqual(st, 200, b)
        pins = ["sha256:" + u.ok(cmd="status")["management"]["certificate_sha256"]
                for u in (old, new)]
        conf, before = self.conf_with_old(self.home, old, os.path.join(self.home, "control"),
                                          "--tls")
        self.assertIn(f"tls = on\ntls_fingerprint = {pins[0]}\n", before)
        self.dsu("backup", old_host, "--user", "admin", "-o", self.home)
        old.close()
        r = self.dsu("replace", old_host, new.host, "--user", "admin", "--config", conf,
                     "--yes")
        self.assertIn("does not answer: its last backup, "
                      f"{os.path.join(self.home, '00-90-E8-00-00-01.json')}", r.stdout)
        self.assertIn("settings.sntp.enabled: false -> true", r.stdout)
        self.assertIn("realcomd is not running", r.stderr)
        self.assertIn("nothing reloaded", r.stderr)
        self.assertEqual(self.export(new)["settings"]["sntp"]["servers"], ["192.0.2.123"])
        self.assertEqual([p["connection"] for p in self.export(new)["settings"]["serial_ports"]],
                         ["encrypted", "encrypted"])
        self.check_moved(conf, before, old, new, pins)

    def test_replace_refusals(self):
        old = self.unit("--mac", "00:90:E8:00:00:01")
        new = self.unit("--mac", "00:90:E8:00:00:02")
        twin = self.unit("--mac", "00:90:E8:00:00:01")
        other = self.unit("--mac", "00:90:E8:00:00:03", "--model", OTHER_MODEL)
        old_host = f"localhost:{old.https_port}"
        self.put(old, "security/login-message", {"text": "authorized use only"})
        conf, before = self.conf_with_old(self.home, old, os.path.join(self.home, "control"))
        new_settings = self.export(new)["settings"]

        def unchanged():
            with open(conf) as f:
                self.assertEqual(f.read(), before)
            self.assertEqual(self.export(new)["settings"], new_settings)
            self.assertFalse(os.path.exists(os.path.join(self.home, ".local/state/realcom/"
                                                                    "backups")))

        args = ("--user", "admin", "--config", conf)
        # without a terminal and --yes: the plan, then refused
        r = self.dsu("replace", old_host, new.host, *args, want=1)
        self.assertIn("ttyR0 (port 1): host localhost -> 127.0.0.1", r.stdout)
        self.assertIn("add --yes", r.stderr)
        unchanged()
        r = self.dsu("replace", old_host, twin.host, *args, "--yes", want=1)
        self.assertIn("the same unit, not a replacement", r.stderr)
        unchanged()
        r = self.dsu("replace", old_host, other.host, *args, "--yes", want=1)
        self.assertIn(f'this unit is an "{OTHER_MODEL}"', r.stderr)
        unchanged()
        # OLD gone, never backed up
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"localhost:{s.getsockname()[1]}"
        r = self.dsu("replace", closed, new.host, *args, "--yes", want=1)
        self.assertIn("no backup of it is recorded", r.stderr)
        self.assertIn("nothing changed", r.stderr)
        unchanged()
        old.close()
        r = self.dsu("replace", old_host, new.host, *args, "--yes", want=1)
        self.assertIn("no backup of it is recorded", r.stderr)
        unchanged()
        self.dsu("replace", old_host, *args, want=2)
        self.dsu("replace", old_host, new.host, "--config", conf, want=2)
        self.dsu("replace", new.host, new.host, *args, want=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
