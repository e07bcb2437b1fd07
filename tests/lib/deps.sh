# Sourced by tests/run and tests/demo: install the Debian 12 packages the
# build and the tests need, asking apt only when something is missing.

REALCOM_PACKAGES="
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev openssl libavahi-client-dev libserialport-dev libcmocka-dev
  libcurl4-openssl-dev libjson-c-dev libinih-dev libmicrohttpd-dev libsystemd-dev
  python3 python3-serial scdoc socat ser2net sredird
"

realcom_install_deps() {
    missing=""
    for p in $REALCOM_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages:$missing; run as root or install them with apt-get" >&2
        return 1
    fi
    echo "installing:$missing"
    apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
}
