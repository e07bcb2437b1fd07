# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for tests that drive nportsim: start it on free ports in a temp
directory, talk to its control socket, open raw connections and the pty.

Every wait has a deadline; nothing sleeps blindly.  Only loopback is used.
"""
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import termios
import time
import tty

NPORTSIM = os.environ.get("NPORTSIM", "nportsim")
DEADLINE = 10.0


def wait_for(cond, what, timeout=DEADLINE, interval=0.01):
    """Poll cond() every interval seconds until it returns a true value; fail
    saying what did not happen."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        select.select([], [], [], interval)


def recv_exact(sock, n, timeout=DEADLINE):
    """Read exactly n bytes (fails on EOF or deadline)."""
    sock.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} of {n} bytes: {out.hex()}")
        out += chunk
    return out


def unverified():
    """A TLS client context that takes any certificate (the test looks at
    it itself)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_n(fd, n, timeout=DEADLINE):
    """Read exactly n bytes from the non-blocking fd (a pty or tty) within
    timeout seconds."""
    out = bytearray()
    end = time.monotonic() + timeout
    while len(out) < n:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"fd {fd}: got {len(out)} of {n} bytes")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            out += os.read(fd, n - len(out))
    return bytes(out)


def write_all(fd, data, timeout=DEADLINE):
    """Write all of data to the non-blocking fd within timeout seconds (a tty
    may say EAGAIN though writable: its write lock taken for an instant)."""
    end = time.monotonic() + timeout
    while data:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"fd {fd}: write timed out, {len(data)} bytes left")
        _, w, _ = select.select([], [fd], [], left)
        try:
            if w:
                data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [], [], min(0.001, max(left, 0)))


def echo(fd, data, stall=DEADLINE):
    """Write data to fd (a socket's fileno() or a tty) while reading it back
    (the far end echoes); fail when no byte moves either way for stall
    seconds.  Returns what came back."""
    was = os.get_blocking(fd)
    os.set_blocking(fd, False)
    sent, got = 0, bytearray()
    last = time.monotonic()
    while len(got) < len(data):
        if time.monotonic() - last > stall:
            raise AssertionError(f"echo stalled: {len(got)} of {len(data)} bytes back, "
                                 f"{sent} sent, nothing moved for {stall} s")
        r, w, _ = select.select([fd], [fd] if sent < len(data) else [], [], 0.5)
        if w:
            sent += os.write(fd, data[sent:sent + 65536])
            last = time.monotonic()
        if r:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise AssertionError(f"fd {fd}: closed after {len(got)} bytes back")
            got += chunk
            last = time.monotonic()
    os.set_blocking(fd, was)
    return bytes(got)


def expect_silence(sock, timeout=0.3):
    """Assert nothing arrives within timeout (used only where the rule is 'no reply')."""
    r, _, _ = select.select([sock], [], [], timeout)
    if r:
        data = sock.recv(4096)
        raise AssertionError(f"expected no bytes, got {data.hex()}")


def expect_closed(sock, timeout=DEADLINE):
    """Assert the peer closes the connection (EOF or reset) before the deadline."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return
    except (ConnectionResetError, ssl.SSLError):
        return


def stop(proc):
    """End a process we started: SIGTERM, then SIGKILL after the deadline."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port_block():
    """The base of 64 TCP ports on 127.0.0.1 nobody is bound to, below the
    kernel's range for outgoing connections: a unit made with --factory binds
    its ports only when its administrator is created, so a port taken by then
    would stay closed.  Other tests pick their blocks at random too; nportsim
    failing to bind is retried by the caller."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(64):
        base = random.randrange(10000, min(low, 32768) - 64, 64)
        try:
            for port in range(base, base + 64):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no block of 64 free TCP ports on 127.0.0.1")


class Certs:
    """Test certificates made fresh for a test module (tests/lib/mkcerts.sh via
    $MKCERTS): setUpModule = CERTS.setup, tearDownModule = CERTS.teardown."""

    def __init__(self):
        self.dir = None

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="realcom-certs-")
        subprocess.run(["sh", os.environ["MKCERTS"], self.dir], check=True, capture_output=True)

    def teardown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)


class Sim:
    """One nportsim process.  Use as a context manager."""

    def __init__(self, *args, ports=1, mode="realcom", prefix=()):
        """prefix goes before nportsim's command (a wrapper that execs it,
        e.g. Netns.argv([]) to run it in a network namespace)."""
        self.dir = tempfile.mkdtemp(prefix="nportsim-test-")
        self.ports = ports
        self.mode = mode
        self.proc = None
        self.sockets = []
        for _ in range(8):
            base = free_port_block()
            self.data_base, self.command_base, self.tcp_base = base, base + 16, base
            cmd = [*prefix, NPORTSIM, "--ports", str(ports), "--mode", mode,
                   "--data-base", str(self.data_base), "--command-base", str(self.command_base),
                   "--tcp-base", str(self.tcp_base), "--pty-dir", self.dir,
                   "--control", self.path("control"), *args]
            with open(self.path("nportsim.log"), "w") as logfile:
                self.proc = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT)
            try:
                # "ready" alone would also match "Address already in use"
                wait_for(lambda: self.proc.poll() is not None or
                         "nportsim: ready\n" in self.log_text(), "nportsim to start")
            except AssertionError:
                self.close()
                raise
            if self.proc.poll() is None:
                self.ctl_sock = socket.socket(socket.AF_UNIX)
                self.ctl_sock.connect(self.path("control"))
                self.ctl_file = self.ctl_sock.makefile("rw")
                self.sockets += [self.ctl_file, self.ctl_sock]
                return
            if "Address already in use" not in self.log_text():
                text = self.log_text()
                self.close()
                raise AssertionError(f"nportsim failed to start:\n{text}")
        self.close()
        raise AssertionError("no free port range for nportsim")

    def path(self, name):
        return os.path.join(self.dir, name)

    def log_text(self):
        with open(self.path("nportsim.log")) as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(f"nportsim log ({self.path('nportsim.log')}):\n{self.log_text()}")
        self.close()

    def close(self):
        for s in self.sockets:
            s.close()
        self.sockets = []
        stop(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    # control socket
    def ctl(self, **req):
        self.ctl_file.write(json.dumps(req) + "\n")
        self.ctl_file.flush()
        line = self.ctl_file.readline()
        if not line:
            raise AssertionError("control socket closed")
        return json.loads(line)

    def ok(self, **req):
        r = self.ctl(**req)
        if not r.get("ok"):
            raise AssertionError(f"control request {req} failed: {r}")
        return r

    def port(self, n=1):
        return self.ok(cmd="port", port=n)["port"]

    def commands(self, n=1, clear=False):
        """Hex strings of every command the port received, oldest first."""
        return [e["hex"] for e in self.ok(cmd="log", port=n, clear=clear)["log"]]

    def wait_port(self, what, cond, n=1):
        """Poll port n's status until cond(status) holds; returns that status."""
        def check():
            p = self.port(n)
            return p if cond(p) else None
        return wait_for(check, what)

    # network side
    def data_port(self, n=1):
        return self.data_base + (n - 1 if n <= 16 else 32 + n - 17)

    def command_port(self, n=1):
        return self.command_base + (n - 1 if n <= 16 else 32 + n - 17)

    def connect(self, port, wrap=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if wrap:
            s = wrap(s)
        self.sockets.append(s)
        return s

    def realcom(self, n=1, wrap_cmd=None, wrap_data=None):
        """Command then data connection, as Moxa's driver opens them."""
        c = self.connect(self.command_port(n), wrap_cmd)
        d = self.connect(self.data_port(n), wrap_data)
        self.wait_port("the data connection to be up", lambda p: p["connected"], n)
        return c, d

    # serial side
    def open_pty(self, n=1):
        fd = os.open(self.path(f"port{n}"), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd, termios.TCSANOW)    # TCSAFLUSH would drop bytes already waiting
        return fd


class Unit(Sim):
    """nportsim with its management API (HTTPS) on a free port of 127.0.0.1
    and no mDNS: host is "127.0.0.1:PORT", as dsu takes it."""

    def __init__(self, *args, **kw):
        super().__init__("--https-port", "0", "--no-mdns", *args, **kw)
        m = re.search(r"https: 127\.0\.0\.1 port (\d+),", self.log_text())
        if not m:
            text = self.log_text()
            self.close()
            raise AssertionError(f"no https port in the log:\n{text}")
        self.https_port = int(m.group(1))
        self.host = f"127.0.0.1:{self.https_port}"

    def request(self, method, path, body=None, token=None, raw=None, headers=None):
        """One call of the REST API (path under /api/v1 unless it starts with
        "/"), not verifying the unit's certificate: (status, parsed JSON or
        None, the response)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=DEADLINE,
                                        context=unverified())
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path if path.startswith("/") else "/api/v1/" + path, data, h)
            r = c.getresponse()
            text = r.read()
            return r.status, (json.loads(text) if text else None), r
        finally:
            c.close()

    def login(self, user, password):
        """A token, or AssertionError."""
        st, b, _ = self.request("POST", "auth/login", {"username": user, "password": password})
        if st != 200:
            raise AssertionError(f"login {user}: {st} {b}")
        return b["token"]
