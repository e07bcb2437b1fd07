# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for end-to-end tests: realcomd (pty backend) against nportsim or a
peer we did not write.  Builds on tests/sim/simlib.py; loopback only, every
wait bounded."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sim"))
from simlib import DEADLINE, Sim, Unit, Certs, echo, read_n, stop, wait_for, write_all  # noqa: E402,F401

REALCOMD = os.environ.get("REALCOMD", "realcomd")
REALCOMCTL = os.environ.get("REALCOMCTL", "realcomctl")
DSU = os.environ.get("DSU", "dsu")


class DsuCase(unittest.TestCase):
    """dsu's tests: a temporary HOME, the nportsim units a test keeps in
    self.units (closed after it), and dsu run there with self.env added."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="dsu-test-")
        self.units = []
        self.env = {}

    def tearDown(self):
        for u in self.units:
            u.close()
        subprocess.run(["rm", "-rf", self.home])

    def dsu(self, *args, password=None, want=0, env=None, cwd=None):
        """dsu ARGS without a terminal; want: the exit status asserted (None: any)."""
        env = {"HOME": self.home, "PATH": "/usr/bin:/bin", **self.env, **(env or {})}
        if password is not None:
            env["DSU_PASSWORD"] = password
        r = subprocess.run([DSU, *args], capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL, cwd=cwd)
        if want is not None:
            self.assertEqual(r.returncode, want, f"dsu {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r


def sd_notice(sock, want, timeout=DEADLINE):
    """The first sd_notify message on the datagram socket sock that carries
    want (e.g. "STOPPING=1"), skipping earlier ones (a reload's STATUS=);
    "" when none came within timeout seconds."""
    sock.settimeout(timeout)
    try:
        for _ in range(64):
            msg = sock.recv(4096).decode()
            if want in msg:
                return msg
    except socket.timeout:
        pass
    return ""


class Realcomd:
    """realcomd with a generated realcom.conf in a temp dir.  ports maps N to
    the keys of a [ttyR<N>] section."""

    def __init__(self, ports, extra_global="", backend="pty", prepare=None, may_exit=False,
                 args=(), verbose=True, prefix=(), env=None, started=None):
        """prepare(self) runs before realcomd starts; with may_exit, realcomd
        exiting at the start is no error (self.proc.returncode says how).
        realcomd's sd_notify messages arrive on self.notify.  args go on
        realcomd's command line; verbose=False leaves out -v; prefix goes
        before it (a wrapper that execs it); env adds to its environment
        (read after prepare, which may fill it in); started(self) says
        realcomd has started when its log does not (default: the log says so)."""
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="realcomd-test-")
        self.proc = None
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.path("notify"))
        # Read as systemd does, all the time: a full queue (10 datagrams)
        # would block realcomd in sd_notify() after ten reloads.
        self.notes, self.notes_cv = [], threading.Condition()
        self.notify_reader = threading.Thread(target=self._read_notes, daemon=True)
        self.notify_reader.start()
        self.write_config(ports, extra_global)
        if prepare:
            prepare(self)
        env = dict(os.environ, NOTIFY_SOCKET=self.path("notify"), **(env or {}))
        with open(self.path("realcomd.log"), "w") as log:
            self.proc = subprocess.Popen([*prefix, REALCOMD, "-f", *(["-v"] if verbose else []), "-c",
                                          self.path("realcom.conf"), *args],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        started = started or (lambda d: "started" in d.log_text())
        wait_for(lambda: self.proc.poll() is not None or started(self), "realcomd to start")
        if self.proc.poll() is not None and not may_exit:
            text = self.log_text()
            self.close()
            raise AssertionError(f"realcomd exited:\n{text}")

    def _read_notes(self):
        self.notify.settimeout(0.2)
        while True:
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return                  # closed
            with self.notes_cv:
                self.notes.append(msg)
                self.notes_cv.notify_all()

    def notified(self, want, timeout=DEADLINE):
        """realcomd's first sd_notify message with want in it, skipping and
        consuming earlier ones (as sd_notice); "" when none came in time."""
        end = time.monotonic() + timeout
        with self.notes_cv:
            while True:
                while self.notes:
                    msg = self.notes.pop(0)
                    if want in msg:
                        return msg
                left = end - time.monotonic()
                if left <= 0:
                    return ""
                self.notes_cv.wait(left)

    def write_config(self, ports, extra_global=""):
        lines = ["[global]", f"backend = {self.backend}", f"pty_dir = {self.path('dev')}",
                 f"control_socket = {self.path('control')}", extra_global]
        for n, keys in sorted(ports.items()):
            lines.append(f"\n[ttyR{n}]")
            lines += [f"{k} = {v}" for k, v in keys.items()]
        with open(self.path("realcom.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def tty(self, n=0):
        """What applications open: the pty link, or /dev/ttyR<n> with realcom.ko."""
        if self.backend == "pty":
            return self.path(f"dev/ttyR{n}")
        return self.port(n)["path"]

    def log_text(self):
        with open(self.path("realcomd.log")) as f:
            return f.read()

    def ctl(self, **req):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(DEADLINE)
            s.connect(self.path("control"))
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)

    def port(self, n=0):
        for p in self.ctl(cmd="status")["ports"]:
            if p["tty"] == f"ttyR{n}":
                return p
        return None

    def wait_state(self, state, n=0, timeout=DEADLINE):
        return wait_for(lambda: (lambda p: p if p and p["state"] == state else None)(self.port(n)),
                        f"ttyR{n} to be {state} (log: {self.path('realcomd.log')})", timeout)

    def realcomctl(self, *args):
        return subprocess.run([REALCOMCTL, "-s", self.path("control"), *args],
                              capture_output=True, text=True, timeout=DEADLINE)

    def close(self):
        stop(self.proc)
        self.proc = None
        self.notify.close()
        self.notify_reader.join(1)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(f"realcomd log:\n{self.log_text()}")
        self.close()


def realcom_port(sim, n=1, **extra):
    """The keys of a [ttyR] section pointing at nportsim's Real COM port n."""
    keys = {"host": "127.0.0.1", "port": n, "data_port": sim.data_port(n),
            "command_port": sim.command_port(n)}
    keys.update(extra)
    return keys


def hand_edit(conf):
    """What a user adds to a realcom.conf that dsu map wrote: a comment on
    ttyR1 and a section of a unit dsu did not map (ttyR7).  The new text."""
    with open(conf) as f:
        text = f.read()
    text = text.replace("[ttyR1]", "; ttyR1: the label printer\n[ttyR1]")
    text += ("\n; the scale, by hand\n[ttyR7]\nhost = 192.0.2.77\nport = 2\n"
             "data_port = 951\ncommand_port = 967\n")
    with open(conf, "w") as f:
        f.write(text)
    return text


def talk(app, dev, there, back):
    """there from an application's tty (app) to the unit's serial end (dev),
    then back the other way; AssertionError when either does not arrive."""
    write_all(app, there)
    got = read_n(dev, len(there))
    if got != there:
        raise AssertionError(f"the unit got {got!r}, not {there!r}")
    write_all(dev, back)
    got = read_n(app, len(back))
    if got != back:
        raise AssertionError(f"the application got {got!r}, not {back!r}")


def open_tty(path, baud=termios.B115200):
    """Open a mapped tty the way a serial program does: raw, non-blocking."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0                      # iflag
    attrs[1] = 0                      # oflag
    attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
    attrs[3] = 0                      # lflag
    attrs[4] = attrs[5] = baud
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def termios_storm(fd, n=10000):
    """An application that sets the line in a loop: n changes between
    9600 and 57600, the last one 19200."""
    a = termios.tcgetattr(fd)
    for i in range(n):
        a[4] = a[5] = termios.B57600 if i % 2 else termios.B9600
        termios.tcsetattr(fd, termios.TCSANOW, a)
    a[4] = a[5] = termios.B19200
    termios.tcsetattr(fd, termios.TCSANOW, a)


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class PtyPair:
    """socat's pty pair: the server gets ttyA, the test plays the device on ttyB."""

    def __init__(self, d):
        self.a, self.b = os.path.join(d, "ttyA"), os.path.join(d, "ttyB")
        self.proc = subprocess.Popen(["socat", f"pty,raw,echo=0,link={self.a}",
                                      f"pty,raw,echo=0,link={self.b}"], stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.a) and os.path.exists(self.b), "the pty pair")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def ser2net_line(test, prefix="ser2net-"):
    """For a unittest.TestCase: ser2net (RFC 2217, on a free port) serving
    one end of a pty pair.  Returns the port and the pair (.b is the line's
    far side); the test's cleanups undo it all."""
    d = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, d, True)
    pair = PtyPair(d)
    test.addCleanup(pair.close)
    port = free_port()
    server = ser2net(pair.a, port)
    test.addCleanup(lambda: (server.terminate(), server.wait(DEADLINE)))
    return port, pair


def ser2net(device, port, stack="telnet(rfc2217),tcp"):
    """ser2net serving DEVICE on 127.0.0.1:PORT (docs/rfc2217.md's verified
    configuration), once it listens; the caller ends it."""
    proc = subprocess.Popen(
        ["ser2net", "-n", "-d", "-u", "-Y",
         f"connection: &c{port}#  accepter: {stack},127.0.0.1,{port}",
         "-Y", f"  connector: serialdev,{device},115200n81,local,nobreak",
         "-Y", "  options:", "-Y", "    kickolduser: true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: listening(port), "ser2net to listen")
    return proc
