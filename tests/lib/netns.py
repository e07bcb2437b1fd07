# SPDX-License-Identifier: GPL-2.0-or-later
"""Network namespaces for tests that need a LAN: mDNS between simulated units
and a host (docs/testing.md, "mDNS across network namespaces").

Topology: one namespace holds a bridge (the LAN, multicast snooping off);
every member namespace gets a veth "eth0" plugged into it, so N units and
hosts see each other's multicast.  Each member has a long-lived holder
process in a private mount namespace (tmpfs over /run/dbus and
/run/avahi-daemon); commands run there through nsenter, so each member can
have its own system bus and avahi-daemon.  Names are unique per run; close()
kills only the processes started here, by pid, and deletes the namespaces
(their veths go with them).  Nothing runs in the root namespace but the
test itself: avahi-daemon never announces on the machine's real network.

    lab = Lab()                                    # needs root, ip, unshare, nsenter
    dev1 = lab.add("dev1", "192.0.2.10/24")
    dev2 = lab.add("dev2", "192.0.2.11/24")
    host = lab.add("host", "192.0.2.1/24")
    for ns in (dev1, dev2, host):
        ns.start_avahi()                           # dbus-daemon + avahi-daemon inside
    sim = dev1.popen([nportsim, "--listen", "192.0.2.10", ...], stdout=f)
    out = host.run(["avahi-browse", "-rpt", "_nport._tcp"]).stdout
    lab.close()                                    # or: with Lab() as lab:
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
from simlib import stop, wait_for  # noqa: E402

TOOLS = {"ip": "iproute2", "unshare": "util-linux", "nsenter": "util-linux",
         "dbus-daemon": "dbus", "avahi-daemon": "avahi-daemon", "avahi-browse": "avahi-utils"}
DEADLINE = 10.0


def missing():
    """Why these tests cannot run here, or None: callers fail with it (no skips)."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    absent = [f"{t} ({p})" for t, p in TOOLS.items() if not shutil.which(t)]
    if absent:
        return "missing: " + ", ".join(absent) + "; apt-get install avahi-daemon avahi-utils " \
               "dbus iproute2"
    return None


class Netns:
    """One member of a Lab: a network namespace with eth0 on the LAN."""

    def __init__(self, lab, name, address):
        self.lab, self.name, self.address = lab, f"{lab.id}-{name}", address
        self.ip = address.split("/")[0]
        self.dir = tempfile.mkdtemp(prefix=f"netns-{self.name}-")
        self.procs = []
        self.holder = None
        self.avahi = None

    def _create(self, bridge_ns, index):
        sh = self.lab.sh
        a, b = f"{self.lab.id}v{index}a", f"{self.lab.id}v{index}b"
        sh("ip", "netns", "add", self.name)
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "link", "set", a, "netns", self.name)
        sh("ip", "link", "set", b, "netns", bridge_ns)
        sh("ip", "-n", self.name, "link", "set", a, "name", "eth0")
        sh("ip", "-n", self.name, "addr", "add", self.address, "dev", "eth0")
        sh("ip", "-n", self.name, "link", "set", "eth0", "up", "multicast", "on")
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        sh("ip", "-n", bridge_ns, "link", "set", b, "master", "br0", "up")
        # The holder: the member's private mount namespace, alive until close()
        # or the lab's time bound.
        script = ("mount -t tmpfs tmpfs /run/dbus && mkdir -p /run/avahi-daemon && "
                  "mount -t tmpfs tmpfs /run/avahi-daemon && "
                  f"exec sleep {int(self.lab.timeout)}")
        os.makedirs("/run/dbus", exist_ok=True)
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", script])
        wait_for(lambda: self.holder.poll() is not None or self._comm() == "sleep",
              f"{self.name}: the namespace holder")
        if self.holder.poll() is not None:
            raise AssertionError(f"{self.name}: the namespace holder failed")

    def _comm(self):
        try:
            with open(f"/proc/{self.holder.pid}/comm") as f:
                return f.read().strip()
        except OSError:
            return ""

    def argv(self, cmd):
        """cmd wrapped to run inside this member (network and mount namespace)."""
        return ["nsenter", f"--target={self.holder.pid}", "--net", "--mount", "--", *cmd]

    def run(self, cmd, timeout=DEADLINE, **kw):
        """subprocess.run inside; output captured as text unless told otherwise."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(cmd), timeout=timeout, **kw)

    def popen(self, cmd, **kw):
        """subprocess.Popen inside; the process is stopped by close()."""
        p = subprocess.Popen(self.argv(cmd), **kw)
        self.procs.append(p)
        return p

    def start_avahi(self):
        """A system bus and avahi-daemon of this member's own, on eth0 only."""
        conf = os.path.join(self.dir, "avahi-daemon.conf")
        with open(conf, "w") as f:
            f.write(f"[server]\nhost-name={self.name}\nallow-interfaces=eth0\nuse-ipv4=yes\n"
                    "use-ipv6=no\nenable-dbus=yes\nratelimit-burst=1000\n"
                    "[wide-area]\nenable-wide-area=no\n"
                    "[publish]\npublish-hinfo=no\npublish-workstation=no\n")
        log = open(os.path.join(self.dir, "daemons.log"), "w")
        self.popen(["dbus-daemon", "--system", "--nofork", "--nopidfile"],
                   stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.run(["test", "-S", "/run/dbus/system_bus_socket"]).returncode == 0,
              f"{self.name}: dbus-daemon")
        self.avahi = self.popen(["avahi-daemon", "--no-drop-root", "--no-chroot",
                                 "--no-rlimits", "-f", conf], stdout=log,
                                stderr=subprocess.STDOUT)
        wait_for(lambda: self.avahi.poll() is not None or
              self.run(["avahi-daemon", "--check"]).returncode == 0, f"{self.name}: avahi-daemon")
        if self.avahi.poll() is not None:
            raise AssertionError(f"{self.name}: avahi-daemon exited; see {self.dir}/daemons.log")
        log.close()

    def log_path(self):
        return os.path.join(self.dir, "daemons.log")

    def close(self):
        for p in reversed(self.procs):
            stop(p)
        self.procs = []
        if self.holder:
            stop(self.holder)
            self.holder = None
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Lab:
    """A LAN of network namespaces joined by a bridge; see the module comment."""

    def __init__(self, timeout=300):
        why = missing()
        if why:
            raise AssertionError(why)
        # unique per run: short (interface names have 15 characters) and random
        self.id = "rc%04x" % random.randrange(0x10000)
        self.timeout = timeout
        self.members = []
        self.bridge_ns = f"{self.id}-lan"
        try:
            self.sh("ip", "netns", "add", self.bridge_ns)
            self.sh("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge",
                    "mcast_snooping", "0")
            self.sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        except Exception:
            self.close()
            raise

    @staticmethod
    def sh(*cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE)
        if r.returncode:
            raise AssertionError(f"{' '.join(cmd)}: {r.stderr.strip()}")

    def add(self, name, address):
        """A member namespace NAME (unique-prefixed) with eth0 at address (a/len)."""
        ns = Netns(self, name, address)
        self.members.append(ns)
        ns._create(self.bridge_ns, len(self.members))
        return ns

    def close(self):
        for ns in reversed(self.members):
            ns.close()
        self.members = []
        subprocess.run(["ip", "netns", "del", self.bridge_ns], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
