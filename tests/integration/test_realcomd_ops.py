#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""realcomd for operators, against nportsim: one daemon per control socket,
--pidfile, the control socket's group and limits (idle clients, pipelined
requests, a server that closes early), the pty backend's group and mode,
rate-limited logs of what a device can trigger, timestamps, realcomctl
status layout and realcomctl metrics (Prometheus text format, checked by a
strict parser below)."""
import grp
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from itlib import (DEADLINE, REALCOMCTL, REALCOMD, Realcomd, Sim, open_tty, realcom_port,  # noqa: E402
                   ser2net_line, wait_for)

NOBODY = 65534
DIALOUT = grp.getgrnam("dialout").gr_gid


def as_user(gid, groups):
    """preexec_fn: become nobody with gid and supplementary groups."""
    def drop():
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(NOBODY)
    return drop


def ask(path, lines):
    """Send request lines on one connection to the control socket at path;
    the answers that came (parsed), in order, within the deadline."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(DEADLINE)
        s.connect(path)
        s.sendall(b"\n".join(lines) + b"\n")
        buf, end = b"", time.monotonic() + DEADLINE
        while buf.count(b"\n") < len(lines) and time.monotonic() < end:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    return [json.loads(x) for x in buf.split(b"\n")[:-1]]


def run(args, timeout=DEADLINE, **kw):
    """Run a program we started, killed at the deadline; returns the
    CompletedProcess (returncode None when it had to be killed)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return subprocess.CompletedProcess(args, None, out, err)
    return subprocess.CompletedProcess(args, p.returncode, out, err)


class OneOwner(unittest.TestCase):
    def test_second_daemon_refused_first_untouched(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            r = run([REALCOMD, "-f", "-c", d.path("realcom.conf")])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"another realcomd (pid {d.proc.pid})", r.stderr)
            # started as a daemon, it says so on stderr before it would detach
            # (--pidfile: with a build that knew no lock, it would stop at the
            # unknown option instead of leaving a daemon behind)
            pid = d.path("second.pid")
            r = run([REALCOMD, "-c", d.path("realcom.conf"), "--pidfile", pid])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"another realcomd (pid {d.proc.pid})", r.stderr)
            self.assertFalse(os.path.exists(pid))
            # the first still owns its socket and its tty link
            self.assertIsNone(d.proc.poll())
            st = d.realcomctl("status")
            self.assertEqual(st.returncode, 0, st.stderr)
            self.assertTrue(os.path.islink(d.tty(0)))
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
            finally:
                os.close(fd)

    def test_daemon_keeps_the_lock(self):
        """Without -f: the lock taken before daemon() is the child's."""
        import shutil
        import tempfile
        tmp = tempfile.mkdtemp(prefix="realcomd-daemon-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf, pidfile = os.path.join(tmp, "realcom.conf"), os.path.join(tmp, "realcomd.pid")
        with Sim() as sim:
            keys = realcom_port(sim)
            with open(conf, "w") as f:
                f.write(f"[global]\nbackend = pty\npty_dir = {tmp}/dev\n"
                        f"control_socket = {tmp}/control\n\n[ttyR0]\n" +
                        "".join(f"{k} = {v}\n" for k, v in keys.items()))
            r = run([REALCOMD, "-c", conf, "--pidfile", pidfile])
            self.assertEqual(r.returncode, 0, r.stderr)
            # exit 0 only once the daemon runs: pidfile, socket and tty are there
            with open(pidfile) as f:
                pid = int(f.read())
            try:
                r = run([REALCOMCTL, "-s", f"{tmp}/control", "status"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(os.path.islink(f"{tmp}/dev/ttyR0"))
                r = run([REALCOMD, "-f", "-c", conf])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"another realcomd (pid {pid})", r.stderr)
            finally:
                os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(pidfile), "the daemon to exit")

    def test_detached_start_that_fails_exits_1(self):
        """Without -f, a failure after the point where it used to detach (the
        pidfile, the control socket, the ttys' directory) is the exit status
        and the message of the command that started it, not a silent 0."""
        tmp = tempfile.mkdtemp(prefix="realcomd-detach-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with Sim() as sim:
            keys = "".join(f"{k} = {v}\n" for k, v in realcom_port(sim).items())
            cases = [
                (f"pty_dir = {tmp}/dev\ncontrol_socket = {tmp}/control", [
                    "--pidfile", f"{tmp}/no/such/dir/realcomd.pid"], "pidfile"),
                (f"pty_dir = {tmp}/dev\ncontrol_socket = {tmp}/{'s' * 120}", [],
                 "a socket's path holds at most 107"),
                (f"pty_dir = {tmp}/no/such/dev\ncontrol_socket = {tmp}/control2", [],
                 f"{tmp}/no/such/dev"),
            ]
            for n, (glob, args, said) in enumerate(cases):
                conf = os.path.join(tmp, f"c{n}.conf")
                with open(conf, "w") as f:
                    f.write(f"[global]\nbackend = pty\n{glob}\n\n[ttyR0]\n{keys}")
                r = run([REALCOMD, "-c", conf] + args)
                self.assertEqual(r.returncode, 1, f"{said}: {r.stderr}")
                self.assertIn(said, r.stderr)
                self.assertRegex(r.stderr, r"realcomd(\[\d+\])?: ")

    def test_relative_config_path_reloads(self):
        """-c with a relative path: the detached daemon (in /) still reads
        the same file at a reload."""
        tmp = tempfile.mkdtemp(prefix="realcomd-rel-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with Sim() as sim:
            keys = "".join(f"{k} = {v}\n" for k, v in realcom_port(sim).items())
            with open(os.path.join(tmp, "r.conf"), "w") as f:
                f.write(f"[global]\nbackend = pty\npty_dir = {tmp}/dev\n"
                        f"control_socket = {tmp}/control\n\n[ttyR0]\n{keys}")
            r = subprocess.run([REALCOMD, "-c", "r.conf", "--pidfile", "r.pid"], cwd=tmp,
                               capture_output=True, text=True, timeout=DEADLINE)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(tmp, "r.pid")) as f:
                pid = int(f.read())
            try:
                r = subprocess.run([REALCOMCTL, "-s", f"{tmp}/control", "reload"],
                                   capture_output=True, text=True, timeout=DEADLINE)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("1 unchanged", r.stdout)
            finally:
                os.kill(pid, signal.SIGTERM)
                wait_for(lambda: not os.path.exists(os.path.join(tmp, "r.pid")),
                         "the detached realcomd to stop")

    def test_shared_pty_dir_refused(self):
        """Another control socket but the same pty_dir would replace the
        first daemon's tty links: refused, naming the first."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            link = os.readlink(d.tty(0))
            with open(d.path("realcom.conf")) as f:
                text = f.read().replace(f"control_socket = {d.path('control')}",
                                        f"control_socket = {d.path('control2')}")
            with open(d.path("second.conf"), "w") as f:
                f.write(text)
            r = run([REALCOMD, "-f", "-c", d.path("second.conf")])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"another realcomd (pid {d.proc.pid}) already makes its ttys in "
                          f"{d.path('dev')}", r.stderr)
            self.assertEqual(os.readlink(d.tty(0)), link)
            self.assertIsNone(d.proc.poll())
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
            finally:
                os.close(fd)

    def test_pidfile_written_and_removed(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="realcomd-pid-")
        pidfile = os.path.join(tmp, "realcomd.pid")
        self.addCleanup(os.rmdir, tmp)
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, args=("--pidfile", pidfile)) as d:
            with open(pidfile) as f:
                self.assertEqual(f.read(), f"{d.proc.pid}\n")
            with open(d.path("control.lock")) as f:
                self.assertEqual(f.read(), f"{d.proc.pid}\n")
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(DEADLINE), 0)
            self.assertFalse(os.path.exists(pidfile))


class PathsTaken(unittest.TestCase):
    """realcomd replaces an old socket at control_socket and an old link at a
    tty's path (a daemon killed leaves them), never anything else: a mistyped
    path must not cost the operator a file."""

    def test_control_socket_on_a_file(self):
        def aim_at_config(d):
            conf = d.path("realcom.conf")
            with open(conf) as f:
                text = f.read().replace(f"control_socket = {d.path('control')}",
                                        f"control_socket = {conf}")
            with open(conf, "w") as f:
                f.write(text)
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, prepare=aim_at_config,
                                    may_exit=True) as d:
            self.assertEqual(d.proc.wait(DEADLINE), 1)
            conf = d.path("realcom.conf")
            self.assertTrue(stat.S_ISREG(os.lstat(conf).st_mode))
            with open(conf) as f:
                self.assertIn("[ttyR0]", f.read())
            log = d.log_text()
            self.assertIn(f"control socket {conf}: something other than a socket is there; "
                          "not replaced", log)
            self.assertEqual(log.count("control socket"), 1, log)

    def test_tty_path_on_a_file(self):
        def put_file(d):
            os.makedirs(d.path("dev"), exist_ok=True)
            with open(d.path("dev/ttyR0"), "w") as f:
                f.write("precious")
        with Sim() as sim, Realcomd({0: realcom_port(sim), 1: realcom_port(sim, 2)},
                                    prepare=put_file) as d:
            self.assertIn(f"{d.path('dev/ttyR0')}: something other than a link is there; "
                          "not replaced", d.log_text())
            with open(d.path("dev/ttyR0")) as f:
                self.assertEqual(f.read(), "precious")
            self.assertTrue(os.path.islink(d.tty(1)))     # the other port serves
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(DEADLINE), 0)
            with open(d.path("dev/ttyR0")) as f:
                self.assertEqual(f.read(), "precious")


class Stopping(unittest.TestCase):
    def test_no_reload_while_stopping(self):
        """SIGTERM, then a reload while a port drains into a stalled unit: the
        reload is refused (a port it added would connect during the exit),
        and realcomd exits with no new session anywhere."""
        with Sim() as a, Sim() as b, Realcomd({0: realcom_port(a)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                a.ok(cmd="stall", port=1, ms=3000)  # the close's drain waits
                d.write_config({0: realcom_port(a),
                                1: realcom_port(b, connect="always")})
                d.proc.send_signal(signal.SIGTERM)
                wait_for(lambda: "stopping" in d.log_text(), "realcomd to start stopping")
                r = d.realcomctl("reload")
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("realcomd is stopping: the configuration is not read", r.stderr)
                self.assertEqual(d.proc.wait(DEADLINE), 0)
            finally:
                os.close(fd)
            self.assertEqual(b.port()["sessions"], 0)


class ControlSocket(unittest.TestCase):
    def setUp(self):
        self.sim = Sim()
        self.d = Realcomd({0: realcom_port(self.sim)})

    def tearDown(self):
        self.d.close()
        self.sim.close()

    def test_group_may_read_status_only_root_reloads(self):
        os.chmod(self.d.dir, 0o755)     # mkdtemp made it 0700
        st = os.stat(self.d.path("control"))
        self.assertEqual((st.st_gid, stat.S_IMODE(st.st_mode)), (DIALOUT, 0o660))
        ctl = [REALCOMCTL, "-s", self.d.path("control")]
        r = run(ctl + ["status"], preexec_fn=as_user(NOBODY, [DIALOUT]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ttyR0", r.stdout)
        r = run(ctl + ["metrics"], preexec_fn=as_user(NOBODY, [DIALOUT]))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(ctl + ["reload"], preexec_fn=as_user(NOBODY, [DIALOUT]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("reload: permission denied (root only", r.stderr)
        r = run(ctl + ["status"], preexec_fn=as_user(NOBODY, []))
        self.assertEqual(r.returncode, 1)
        self.assertIn("Permission denied", r.stderr)
        r = self.d.realcomctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_40_idle_clients_then_status(self):
        idle = []
        try:
            for n in range(40):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(DEADLINE)
                s.connect(self.d.path("control"))
                if n % 2:
                    s.sendall(b'{"cmd":')    # half a request, never finished
                idle.append(s)
            r = self.d.realcomctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("ttyR0", r.stdout)
        finally:
            for s in idle:
                s.close()

    def test_group_cannot_crowd_out_root(self):
        """Twenty clients of a control_group member do not close root's
        (the operator's) idle session; root's new ones still get in."""
        os.chmod(self.d.dir, 0o755)
        root = socket.socket(socket.AF_UNIX)
        root.settimeout(DEADLINE)
        root.connect(self.d.path("control"))
        self.addCleanup(root.close)
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:                    # a dialout member holding 20 clients
            try:
                as_user(NOBODY, [DIALOUT])()
                held = []
                for _ in range(20):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(self.d.path("control"))
                    held.append(s)
                os.write(ready_w, b"x")
                select.select([done_r], [], [], DEADLINE)
                os._exit(0)
            except BaseException:
                os._exit(4)
        try:
            self.assertEqual(select.select([ready_r], [], [], DEADLINE)[0], [ready_r])
            r = self.d.realcomctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            root.sendall(b'{"cmd":"status"}\n')
            self.assertTrue(json.loads(root.recv(1 << 20).split(b"\n")[0])["ok"])
        finally:
            os.write(done_w, b"x")
            os.waitpid(pid, 0)
            for fd in (ready_r, ready_w, done_r, done_w):
                os.close(fd)

    def test_100_pipelined_requests_all_answered(self):
        got = ask(self.d.path("control"), [b'{"cmd":"status"}'] * 100)
        self.assertEqual(len(got), 100)
        self.assertTrue(all(x["ok"] for x in got))

    def test_malformed_requests_answered(self):
        """Whatever a member of control_group sends, realcomd answers and
        lives on (a null cmd once crashed it)."""
        os.chmod(self.d.dir, 0o755)
        bad = [b'{"cmd":null}', b'{"cmd":5}', b'{"cmd":["status"]}', b'{"cmd":{}}', b'[]',
               b'5', b'null', b'"status"', b'{}', b'{"cmd":"status\u0000x"}', b'{"cmd":"nope"}']

        pid = os.fork()
        if pid == 0:                    # as a dialout member, not root
            try:
                as_user(NOBODY, [DIALOUT])()
                got = ask(self.d.path("control"), bad)
                os._exit(0 if len(got) == len(bad) and not any(g["ok"] for g in got) else 3)
            except BaseException:
                os._exit(4)
        _, st = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(st), 0)
        self.assertIsNone(self.d.proc.poll(), "realcomd died")
        got = ask(self.d.path("control"), [b'{"cmd":null}'])
        self.assertIn("\"cmd\" a string", got[0]["error"])
        r = self.d.realcomctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_status_output_error_said(self):
        with open("/dev/full", "w") as full:
            for args in (["status"], ["status", "--json"], ["metrics"]):
                r = subprocess.run([REALCOMCTL, "-s", self.d.path("control")] + args,
                                   stdout=full, stderr=subprocess.PIPE, text=True,
                                   timeout=DEADLINE)
                self.assertEqual(r.returncode, 1, args)
                self.assertIn("No space left on device", r.stderr)

    def test_reload_says_global_waits(self):
        self.d.write_config({0: realcom_port(self.sim)}, "pty_mode = 0600")
        r = self.d.realcomctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 unchanged", r.stdout)
        self.assertIn("changes to [global] take effect at the next start", r.stdout)
        self.assertEqual(stat.S_IMODE(os.lstat(os.path.realpath(self.d.tty(0))).st_mode), 0o660)

    def test_twenty_reloads(self):
        """Each reload tells systemd its STATUS= (the harness reads them as
        systemd does); none of them holds up the next."""
        for n in range(20):
            r = self.d.realcomctl("reload")
            self.assertEqual(r.returncode, 0, f"reload {n}: {r.stderr}")
        self.assertIn("STATUS=", self.d.notified("1 unchanged"))

    def test_clients_cannot_flood_the_log(self):
        """Clients that leave before their answer are no news; requests too
        long are logged once, then counted."""
        def connected(s):
            """Connect, waiting (bounded) while the backlog is full."""
            def attempt():
                try:
                    s.connect(self.d.path("control"))
                    return True
                except BlockingIOError:
                    return False
            wait_for(attempt, "room in the control socket's backlog")

        for _ in range(200):
            with socket.socket(socket.AF_UNIX) as s:
                connected(s)
                s.sendall(b'{"cmd":"status"}\n')
        for _ in range(50):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(DEADLINE)
                connected(s)
                try:
                    s.sendall(b"x" * 70000)
                    s.recv(1)
                except OSError:
                    pass
        r = self.d.realcomctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        log = self.d.log_text()
        self.assertNotIn("was dropped", log)
        self.assertNotIn("dropped (", log)
        self.assertEqual(log.count("control: a request longer than"), 1, log[-2000:])

    def test_idle_client_closed(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.d.path("control"))
            s.settimeout(30 * 1.25 + DEADLINE)      # CTLSOCK_IDLE_MS and a quarter
            self.assertEqual(s.recv(1), b"")


class ControlGroupMissing(unittest.TestCase):
    def test_missing_group_root_only_and_runs(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)},
                                    extra_global="control_group = no-such-group-here") as d:
            st = os.stat(d.path("control"))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            self.assertEqual(d.log_text().count("control_group no-such-group-here: no such "
                                                "group"), 1)
            self.assertEqual(d.realcomctl("status").returncode, 0)


class EarlyClose(unittest.TestCase):
    """A server that takes the connection and closes it at once, before or
    after realcomctl wrote its request (whichever comes first varies):
    realcomctl says so and exits 1, never dies of SIGPIPE."""

    def test_realcomctl_against_a_server_that_closes(self):
        import tempfile
        path = os.path.join(tempfile.mkdtemp(prefix="realcomctl-test-"), "control")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(64)
        stop = threading.Event()

        def serve():
            srv.settimeout(0.1)
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                c.close()
        t = threading.Thread(target=serve)
        t.start()
        try:
            for _ in range(100):
                r = run([REALCOMCTL, "-s", path, "status"])
                self.assertEqual(r.returncode, 1, f"signal {-r.returncode}" if
                                 r.returncode and r.returncode < 0 else r.stderr)
                self.assertRegex(r.stderr, r"^realcomctl: .*: the server closed the connection "
                                 r"(before taking the request|without answering)")
        finally:
            stop.set()
            t.join()
            srv.close()
            os.unlink(path)
            os.rmdir(os.path.dirname(path))


class OddServer(unittest.TestCase):
    """realcomctl pointed at a socket whose answers are not realcomd's: it
    says so and exits 1, never crashes."""

    def test_malformed_replies(self):
        path = os.path.join(tempfile.mkdtemp(prefix="realcomctl-test-"), "control")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        replies = [b'{"ok":true}', b'{"ok":true,"ports":5}', b'{"ok":true,"ports":[5]}',
                   b'{"ok":true,"ports":[{"tty":null,"state":null,"modem":5}]}', b'[]',
                   b'{"ok":null,"error":null}']
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(8)
        srv.settimeout(0.1)
        stop = threading.Event()
        reply = [b""]

        def serve():
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except (socket.timeout, OSError):
                    continue
                with c:
                    c.settimeout(DEADLINE)
                    try:
                        c.recv(4096)
                        c.sendall(reply[0] + b"\n")
                    except OSError:
                        pass
        t = threading.Thread(target=serve)
        t.start()
        try:
            for rep in replies:
                reply[0] = rep
                for args in (["status"], ["status", "--json"], ["metrics"], ["line", "ttyR0"]):
                    r = run([REALCOMCTL, "-s", path] + args)
                    self.assertIn(r.returncode, (0, 1), f"{rep} {args}: {r.returncode} {r.stderr}")
                    if rep != replies[3]:       # a list of ports, odd values
                        self.assertEqual(r.returncode, 1, f"{rep} {args}")
                        self.assertRegex(r.stderr, r"^realcomctl: ", f"{rep} {args}")
        finally:
            stop.set()
            srv.close()
            t.join()


class PtyOwner(unittest.TestCase):
    def test_default_dialout_0660(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            st = os.stat(d.tty(0))
            self.assertEqual((st.st_gid, stat.S_IMODE(st.st_mode)), (DIALOUT, 0o660))

    def test_configured_and_missing_group(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)},
                                    extra_global="pty_group = no-such-group-here\n"
                                                 "pty_mode = 0640") as d:
            st = os.stat(d.tty(0))
            self.assertEqual((st.st_gid, stat.S_IMODE(st.st_mode)), (0, 0o640))
            self.assertEqual(d.log_text().count("pty_group no-such-group-here: no such group"),
                             1)

    def test_dialout_user_opens_the_tty(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            os.chmod(d.dir, 0o755)
            prog = ("import os, sys; os.close(os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY));"
                    "print('opened')")
            r = run(["/usr/bin/python3", "-c", prog, d.tty(0)],
                    preexec_fn=as_user(NOBODY, [DIALOUT]))
            self.assertEqual(r.returncode, 0, r.stderr)


class PtyLimit(unittest.TestCase):
    """Out of ptys: realcomd runs in a mount namespace of its own whose devpts
    takes two ptys (max=2), the real kernel's ENOSPC, nothing faked."""

    def test_limit_named(self):
        wrap = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mount -t devpts -o newinstance,ptmxmode=0666,max=2 devpts /dev/pts && "
                "mount --bind /dev/pts/ptmx /dev/ptmx && exec \"$0\" \"$@\""]
        with Sim(ports=3) as sim, Realcomd({n: realcom_port(sim, n + 1) for n in range(3)},
                                           prefix=wrap) as d:
            self.assertEqual([p["tty"] for p in d.ctl(cmd="status")["ports"]],
                             ["ttyR0", "ttyR1"])
            self.assertIn("ttyR2: pty: no pty left: the limit is kernel.pty.max = ",
                          d.log_text())
            self.assertIn("max= option of the devpts mount", d.log_text())


class Logs(unittest.TestCase):
    def test_unsolicited_flood_bounded_log(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                sent = 0
                for _ in range(100000):
                    if sent >= 20000:
                        break
                    sent += sim.ok(cmd="unsolicited", port=1, count=20000 - sent)["sent"]
                self.assertEqual(sent, 20000)
                # a NOTIFY after them on the same connection: once realcomd has
                # it, it has read every reply before it
                sim.ok(cmd="modem", port=1, ri=True)
                wait_for(lambda: d.port()["modem"]["ri"], "the NOTIFY behind the flood")
                for _ in range(200):
                    sim.ok(cmd="inject", port=1, events=["parity"])
                wait_for(lambda: d.port()["parity_errors"] == 200, "200 parity errors counted")
            finally:
                os.close(fd)
                # the flood stopped: what was held back is counted within an interval
                wait_for(lambda: 'more like "unexpected reply 14' in d.log_text(),
                         "the count of held-back lines", 2 * 10 + DEADLINE)
            text = d.log_text()
            lines = [x for x in text.splitlines() if "unexpected reply 14" in x]
            self.assertLessEqual(len(lines), 4, lines)
            counts = [int(m) for x in lines
                      for m in re.findall(r"(\d+) more like", x)]
            self.assertEqual(len(lines) - len(counts) + sum(counts), 20000, lines)
            self.assertLessEqual(text.count("line event"), 4)

    def test_unit_dropping_every_session_bounded_log(self):
        """A unit that ends each session (here 6 times, as fast as realcomd
        reconnects: the back-off doubles each time) logs the first connect and
        loss, then counts."""
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, verbose=False) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                for n in range(6):
                    sim.ok(cmd="drop", port=1)
                    wait_for(lambda: d.port()["connects"] >= n + 2 and
                             d.port()["state"] == "up", f"reconnect {n + 1}")
            finally:
                os.close(fd)
            text = d.log_text()
            self.assertLessEqual(text.count(": connected (realcom)"), 3, text)
            self.assertLessEqual(text.count("; retry in"), 3, text)

    def test_open_close_info_and_timestamps(self):
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, verbose=False) as d:
            fd = open_tty(d.tty(0))
            d.wait_state("up")
            os.close(fd)
            d.wait_state("idle")
            text = d.log_text()
            self.assertIn("ttyR0: opened by an application", text)
            self.assertIn("ttyR0: closed by the application", text)
            for line in text.splitlines():
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z realcomd: ")


class Journal(unittest.TestCase):
    """Under systemd with stderr on the journal ($JOURNAL_STREAM names it),
    lines go to the journal's native socket with TTY= and PEER=.  realcomd
    runs in a mount namespace whose /run/systemd is a directory of the test
    holding a datagram socket where journald's would be."""

    def test_fields_reach_the_journal(self):
        import tempfile
        sd = tempfile.mkdtemp(prefix="realcomd-journal-")
        self.addCleanup(lambda: __import__("shutil").rmtree(sd, ignore_errors=True))
        os.mkdir(os.path.join(sd, "journal"))
        journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        journal.bind(os.path.join(sd, "journal", "socket"))
        self.addCleanup(journal.close)
        env = {}

        def stream(d):
            # stderr (the log file) is "the journal's stream": its dev:ino
            open(d.path("realcomd.log"), "w").close()
            st = os.stat(d.path("realcomd.log"))
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        wrap = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                f"mount --bind {sd} /run/systemd && exec \"$0\" \"$@\""]
        msgs = []

        def got(want, timeout):
            journal.settimeout(timeout)
            try:
                while not any(want in m for m in msgs):
                    msgs.append(journal.recv(65536).decode())
            except (socket.timeout, BlockingIOError):
                return None
            return next(m for m in msgs if want in m)
        with Sim() as sim, Realcomd({0: realcom_port(sim)}, prefix=wrap, env=env,
                                    prepare=stream,
                                    started=lambda d: got("MESSAGE=started", 0.01)) as d:
            fd = open_tty(d.tty(0))
            try:
                m = got("MESSAGE=ttyR0: opened by an application", DEADLINE)
            finally:
                os.close(fd)
            self.assertIsNotNone(m, msgs)
            self.assertIn("\nTTY=ttyR0\n", m)
            self.assertRegex(m, r"\nPEER=127\.0\.0\.1")
            self.assertIn("\nPRIORITY=6\n", m)
            self.assertIn("SYSLOG_IDENTIFIER=realcomd", m)
            self.assertNotIn("opened by an application", d.log_text())


class Status(unittest.TestCase):
    def test_layout_peer_and_never_used_age(self):
        with Sim(ports=2) as sim:
            dead = socket.socket()
            dead.bind(("127.0.0.1", 0))     # bound, not listening: refused
            ports = {0: realcom_port(sim, 1),
                     1: {"host": "127.0.0.1", "port": 2, "data_port": dead.getsockname()[1],
                         "command_port": dead.getsockname()[1], "connect": "always"},
                     2: {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": 4001}}
            with Realcomd(ports) as d:
                d.wait_state("waiting to reconnect", 1)
                st = d.ctl(cmd="status")
                p0 = next(p for p in st["ports"] if p["tty"] == "ttyR0")
                # never used: idle for as long as the port exists, not the machine's uptime
                self.assertFalse(p0["state_changed"])
                self.assertLessEqual(p0["state_ms"], st["uptime_ms"] + 1000)
                r = d.realcomctl("status")
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                head = lines[0]
                for col in ("STATE", "SINCE", "NEXT", "PEER", "PROTOCOL", "TLS", "OPEN", "MODEM"):
                    at = head.index(col)
                    for line in lines[1:]:
                        self.assertTrue(line[at - 2:at] == "  " and line[at] != " ",
                                        f"{col} at {at}:\n{r.stdout}")
                self.assertRegex(r.stdout, r"ttyR1\s+waiting to reconnect\s+\d+s\s+[\d.]+s\s+"
                                           r"127\.0\.0\.1 port 2\s+realcom")
                self.assertRegex(r.stdout, r"ttyR0\s+idle\s+\d+s\s+-\s+127\.0\.0\.1 port 1\s")
                self.assertRegex(r.stdout, r"ttyR2\s+idle\s+\d+s\s+-\s+127\.0\.0\.1:4001\s+rfc2217")
            dead.close()


# Prometheus text exposition format 0.0.4, strictly
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{({LABEL}(?:,{LABEL})*)\}})? (\S+)$")


def parse_metrics(text):
    """{name: {"type", "help", "samples": [(labels dict, value)]}}; raises on
    anything the format does not allow."""
    out = {}
    assert text.endswith("\n"), "no final newline"
    for line in text.splitlines():
        m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.+)$", line)
        if m:
            kind, name, rest = m.groups()
            e = out.setdefault(name, {"samples": []})
            assert kind.lower() not in e, f"second {kind} for {name}"
            assert not e["samples"], f"{kind} after samples of {name}"
            if kind == "TYPE":
                assert rest in ("counter", "gauge"), line
            e[kind.lower()] = rest
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample: {line!r}"
        name, labels, value = m.groups()
        assert name in out and "type" in out[name], f"sample before TYPE: {line}"
        float(value)
        lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        out[name]["samples"].append((lab, float(value)))
    for name, e in out.items():
        assert "help" in e and "type" in e, name
        if e["type"] == "counter":
            assert name.endswith("_total"), name
    # The same text read by the Prometheus project's own parser (a peer we
    # did not write) must give the same samples.
    from prometheus_client.parser import text_string_to_metric_families
    theirs = sorted((s.name, sorted(s.labels.items()), s.value)
                    for f in text_string_to_metric_families(text) for s in f.samples)
    ours = sorted((name, sorted(lab.items()), v)
                  for name, e in out.items() for lab, v in e["samples"])
    assert theirs == ours, f"prometheus_client reads other samples:\n{theirs}\n{ours}"
    return out


class StatusModem(unittest.TestCase):
    def test_inputs_only_while_a_session_is(self):
        """The unit's CTS/DSR/DCD are shown while its session is up; once
        it is gone, nothing is known of them, and status shows none."""
        with Sim() as sim, Realcomd({0: realcom_port(sim, connect="always")}) as d:
            d.wait_state("up")
            sim.ok(cmd="modem", port=1, cts=True, dsr=True, dcd=True)
            wait_for(lambda: d.port()["modem"]["dcd"], "DCD from the unit")
            sim.ok(cmd="reboot", ms=3000)
            wait_for(lambda: d.port()["state"] != "up", "the session to end")
            m = d.port()["modem"]
            self.assertEqual((m["cts"], m["dsr"], m["dcd"], m["ri"]), (False,) * 4)
            line = d.realcomctl("status").stdout.splitlines()[1]
            self.assertNotIn("DCD", line)


class TlsFailures(unittest.TestCase):
    """Handshakes refused (a certificate from another CA) are counted."""

    def test_counted_in_metrics(self):
        from itlib import Certs
        certs = Certs()
        certs.setup()
        self.addCleanup(certs.teardown)
        with Sim("--tls", "on", "--cert", certs.path("server.pem"), "--key",
                 certs.path("server.key")) as sim, \
                Realcomd({0: realcom_port(sim, tls="on", tls_ca=certs.path("other-ca.pem"),
                                          connect="always")}) as d:
            wait_for(lambda: d.port()["tls_failures"] >= 2, "two refused handshakes")
            self.assertEqual(d.port()["connects"], 0)
            r = d.realcomctl("metrics")
            self.assertEqual(r.returncode, 0, r.stderr)
            m = parse_metrics(r.stdout)
            (lab, v), = m["realcom_tls_handshake_failures_total"]["samples"]
            self.assertEqual(lab, {"tty": "ttyR0"})
            self.assertGreaterEqual(v, 2)


class Metrics(unittest.TestCase):
    def test_metrics_parse_and_count(self):
        with Sim(ports=2) as sim, Realcomd({0: realcom_port(sim, 1),
                                            1: realcom_port(sim, 2)}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                os.write(fd, b"hello")
                for ev in (["parity"], ["parity"], ["framing", "overrun"], ["break"]):
                    sim.ok(cmd="inject", port=1, events=ev)
                wait_for(lambda: d.port()["breaks"] == 1 and d.port()["tx_bytes"] == 5,
                         "the break and the bytes counted")
                r = d.realcomctl("metrics")
                # the textfile-collector recipe of README.md and realcomctl(8)
                import tempfile
                collector = tempfile.mkdtemp(prefix="textfile-")
                self.addCleanup(__import__("shutil").rmtree, collector, True)
                rc = run(["/bin/sh", "-c", f"{REALCOMCTL} -s {d.path('control')} metrics > "
                          "realcom.prom.tmp && mv realcom.prom.tmp realcom.prom"], cwd=collector)
                self.assertEqual(rc.returncode, 0, rc.stderr)
                self.assertEqual(os.listdir(collector), ["realcom.prom"])
                with open(os.path.join(collector, "realcom.prom")) as f:
                    parse_metrics(f.read())
            finally:
                os.close(fd)
            self.assertEqual(r.returncode, 0, r.stderr)
            m = parse_metrics(r.stdout)

            def value(name, tty, **labels):
                got = [v for lab, v in m[name]["samples"]
                       if lab.get("tty") == tty and all(lab.get(k) == x for k, x in labels.items())]
                self.assertEqual(len(got), 1, f"{name} {tty} {labels}")
                return got[0]
            self.assertEqual(value("realcom_parity_errors_total", "ttyR0"), 2)
            self.assertEqual(value("realcom_framing_errors_total", "ttyR0"), 1)
            self.assertEqual(value("realcom_overruns_total", "ttyR0"), 1)
            self.assertEqual(value("realcom_breaks_total", "ttyR0"), 1)
            self.assertEqual(value("realcom_tx_bytes_total", "ttyR0"), 5)
            self.assertEqual(value("realcom_connects_total", "ttyR0"), 1)
            self.assertEqual(value("realcom_parity_errors_total", "ttyR1"), 0)
            self.assertEqual(value("realcom_state", "ttyR0", state="up"), 1)
            self.assertEqual(value("realcom_state", "ttyR1", state="idle"), 1)
            for tty in ("ttyR0", "ttyR1"):
                self.assertEqual(sum(v for lab, v in m["realcom_state"]["samples"]
                                     if lab["tty"] == tty), 1)
                self.assertGreaterEqual(value("realcom_state_seconds", tty), 0)
                value("realcom_stale_dropped_bytes_total", tty)
                value("realcom_tls_handshake_failures_total", tty)
                value("realcom_reconnects_total", tty)
                value("realcom_rx_bytes_total", tty)
            self.assertEqual(len(m["realcomd_uptime_seconds"]["samples"]), 1)


class Rfc2217(unittest.TestCase):
    """The same counters and table over RFC 2217: nportsim's line errors
    (NOTIFY-LINESTATE), and ser2net, a server we did not write."""

    def test_line_errors_counted(self):
        with Sim(mode="rfc2217") as sim, \
                Realcomd({0: {"host": "127.0.0.1", "protocol": "rfc2217",
                              "tcp_port": sim.tcp_base + 1}}) as d:
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                sim.wait_port("the line state mask", lambda p: p["linestate_mask"] & 0x1e == 0x1e)
                sim.ok(cmd="inject", port=1, events=["parity", "framing"])
                sim.ok(cmd="inject", port=1, events=["overrun"])
                sim.ok(cmd="inject", port=1, events=["break"])
                p = wait_for(lambda: (lambda p: p if p["breaks"] else None)(d.port()),
                             "the break counted")
            finally:
                os.close(fd)
            self.assertEqual((p["parity_errors"], p["framing_errors"], p["overruns"]), (1, 1, 1))

    def test_ser2net_status_and_metrics(self):
        port, _ = ser2net_line(self, "ops-ser2net-")
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))     # bound, not listening: refused
        self.addCleanup(dead.close)
        with Realcomd({0: {"host": "127.0.0.1", "protocol": "rfc2217", "tcp_port": port},
                       1: {"host": "127.0.0.1", "protocol": "rfc2217",
                           "tcp_port": dead.getsockname()[1], "connect": "always"}}) as d:
            d.wait_state("waiting to reconnect", 1)
            fd = open_tty(d.tty(0))
            try:
                d.wait_state("up")
                os.write(fd, b"hello")
                wait_for(lambda: d.port()["tx_bytes"] == 5, "5 bytes sent")
                r = d.realcomctl("metrics")
                st = d.realcomctl("status")
            finally:
                os.close(fd)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = parse_metrics(r.stdout)
        up = {lab["tty"]: v for lab, v in m["realcom_state"]["samples"] if lab["state"] == "up"}
        self.assertEqual(up["ttyR0"], 1)
        tx = {lab["tty"]: v for lab, v in m["realcom_tx_bytes_total"]["samples"]}
        self.assertEqual(tx["ttyR0"], 5)
        info = [lab for lab, v in m["realcom_port_info"]["samples"] if lab["tty"] == "ttyR0"]
        self.assertEqual(info[0]["protocol"], "rfc2217")
        self.assertEqual(st.returncode, 0, st.stderr)
        self.assertRegex(st.stdout, rf"ttyR0\s+up\s+\d+s\s+-\s+127\.0\.0\.1:{port}\s+rfc2217")
        head = st.stdout.splitlines()[0]
        for line in st.stdout.splitlines()[1:]:
            for col in ("PEER", "PROTOCOL", "MODEM"):
                at = head.index(col)
                self.assertTrue(line[at - 2:at] == "  " and line[at] != " ", st.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
