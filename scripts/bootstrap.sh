#!/usr/bin/env bash
# Installs what PVP Relais needs on a Debian machine: Debian packages (as root), uv,
# then the locked Python packages into .venv. Safe to run again, from any directory.
#   source scripts/bootstrap.sh app     # the staff app only (scripts/demo.sh, a staff PC)
#   source scripts/bootstrap.sh kiosk   # pvp-bridge on a kiosk: its bindings, SANE, CUPS, Chromium
#   source scripts/bootstrap.sh         # everything: the bridge's bindings and what the tests run
#   ./scripts/bootstrap.sh [PROFILE]    # the same as a command (uv then is not put on your PATH)
#   ./scripts/bootstrap.sh --list PROFILE   # only print the profile's Debian packages
# Sourced, it changes neither the calling shell's options nor its directory, puts uv on its
# PATH, and returns non-zero on failure instead of ending the shell.

_pvp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_pvp_uv_version=0.13.9
_pvp_uv_tools="${XDG_CACHE_HOME:-$HOME/.cache}/pvp-relais/tools"

_pvp_bootstrap() (
  set -euo pipefail
  cd "$_pvp_root"
  listing=no
  if [ "${1:-}" = --list ]; then listing=yes; shift; fi
  profile="${1:-test}"

  app_packages=(python3 python3-venv python3-pip)
  # kiosk_bridge's C bindings (pycups, python-sane) build from source against these
  build_packages=(gcc python3-dev libsane-dev libcups2-dev)
  kiosk_packages=(
    "${app_packages[@]}" "${build_packages[@]}"
    sane-utils libsane1 cups cups-client printer-driver-cups-pdf
    # the kiosk's browser, the compositor that shows it full screen, TLS certificates
    chromium cage openssl
  )
  test_packages=(
    "${app_packages[@]}" "${build_packages[@]}"
    # the bridge's tests run the real daemons
    sane-utils libsane1 cups cups-client cups-ipp-utils printer-driver-cups-pdf
    # bridge tests: ippeveprinter needs DNS-SD (a private dbus + avahi), TLS test certs
    avahi-daemon dbus-daemon openssl
    # end-to-end tests drive the app as a person would: in tmux, over a real sshd
    tmux openssh-server openssh-client
    # benchmarks/bench_idle_bytes.py measures pvp's idle output against htop's; tests/deploy
    # verify the unit; the serve tests list processes
    htop systemd procps
    # the kiosk's video session: the bridge drives Chromium; tests shape traffic in a netns
    chromium iproute2
    # the hub's tests start their own PostgreSQL cluster (initdb, pg_ctl) besides SQLite
    postgresql
    git
  )
  case "$profile" in
    app) wanted=("${app_packages[@]}") ;;
    kiosk) wanted=("${kiosk_packages[@]}") ;;
    test) wanted=("${test_packages[@]}") ;;
    *) echo "bootstrap: unknown profile '$profile' (app, kiosk or test)" >&2; exit 2 ;;
  esac
  if [ "$listing" = yes ]; then
    printf '%s\n' "${wanted[@]}"
    exit 0
  fi

  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${wanted[@]}"; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "bootstrap: installing Debian packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi

  uv=uv
  if ! command -v uv >/dev/null || [ "$(uv --version | cut -d' ' -f2)" != "$_pvp_uv_version" ]; then
    if [ ! -x "$_pvp_uv_tools/bin/uv" ]; then
      echo "bootstrap: installing uv $_pvp_uv_version into $_pvp_uv_tools"
      python3 -m venv "$_pvp_uv_tools"
      "$_pvp_uv_tools/bin/pip" install -q "uv==$_pvp_uv_version"
    fi
    uv="$_pvp_uv_tools/bin/uv"
  fi

  case "$profile" in
    app) "$uv" sync --locked --no-dev --inexact --compile-bytecode --quiet ;;  # keeps test extras
    kiosk) "$uv" sync --locked --no-dev --extra bridge --compile-bytecode --quiet ;;
    test) "$uv" sync --locked --all-extras --quiet ;;
  esac
  if [ "$profile" != test ]; then
    # Bytecode written once, by whoever installs: staff accounts cannot write it under
    # /opt, and compiling at every start makes pvp's start several times slower.
    .venv/bin/python -m compileall -q pvp_common pvp_tui kiosk_bridge
  fi
)

if _pvp_bootstrap "$@"; then
  _pvp_status=0
  if ! command -v uv >/dev/null || [ "$(uv --version | cut -d' ' -f2)" != "$_pvp_uv_version" ]; then
    export PATH="$_pvp_uv_tools/bin:$PATH"
  fi
else
  _pvp_status=$?
  echo "bootstrap: failed (exit $_pvp_status); the lines above say what" >&2
fi
unset -f _pvp_bootstrap
unset _pvp_root _pvp_uv_version _pvp_uv_tools
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  return "$_pvp_status"
fi
exit "$_pvp_status"
