# Sourced by tests/run, tests/demo, tests/pkg/run and tests/bench: install the
# Debian 12 packages the build and the tests need, asking apt only when
# something is missing.

REALCOM_PACKAGES="
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev openssl libavahi-client-dev libcmocka-dev
  libcurl4-openssl-dev libjson-c-dev libinih-dev libmicrohttpd-dev libsystemd-dev
  python3 python3-serial python3-prometheus-client scdoc socat ser2net sredird
  avahi-daemon avahi-utils dbus iproute2
"

# The package suite (tests/pkg/run): what dpkg-buildpackage, dh-dkms, lintian
# and the installed-package checks use.  The kernel headers come from
# realcom_install_vm_deps.
REALCOM_PKG_PACKAGES="
  dpkg-dev debhelper dh-dkms dkms fakeroot lintian man-db groff-base systemd udev cpio strace
"

# realcom_install WHAT PACKAGE...: install the packages not installed yet.
# WHAT names the suite in the message a non-root user gets.
realcom_install() {
    local what=$1 p missing="" policy="" r
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "$what needs packages:$missing; run as root or install them with apt-get" >&2
        return 1
    fi
    echo "installing:$missing"
    # No service may start while installing: avahi-daemon would announce this
    # machine on its real network (tests run it in namespaces only).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy
    fi
    apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
    r=$?
    [ -n "$policy" ] && rm -f "$policy"
    return $r
}

realcom_install_deps() {
    realcom_install "the build and the tests" $REALCOM_PACKAGES
}

realcom_install_pkg_deps() {
    realcom_install "the package suite" $REALCOM_PKG_PACKAGES
}

# The VM suite (tests/vm/run): both kernels Debian 12 ships, 6.1 and the
# newest 6.12 the mirror lists, with headers, and qemu to boot them; and the
# kernel source for its checkpatch.pl (tests/vm/checkpatch.sh).
realcom_install_vm_deps() {
    local k612
    k612=$(ls -d /lib/modules/6.12.*+deb12-amd64 2>/dev/null | sort -V | tail -1)
    k612=${k612##*/}
    if [ -z "$k612" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "the VM suite installs a 6.12 kernel: run as root" >&2
            return 1
        fi
        apt-get update -q >/dev/null
        k612=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
               awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -1)
        [ -n "$k612" ] || { echo "no 6.12 kernel on the mirror" >&2; return 1; }
    fi
    realcom_install "the VM suite" linux-image-amd64 linux-headers-amd64 \
        "linux-image-$k612" "linux-headers-$k612" \
        qemu-system-x86 busybox-static cpio kmod make libc6-dev linux-source-6.1 perl
}
