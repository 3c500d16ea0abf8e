#!/usr/bin/env bash
# Installs what PVP Relais needs on a Debian machine: Debian packages (as root), uv,
# then the locked Python packages into .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  python3 python3-venv python3-pip gcc
  # kiosk_bridge's C bindings build from source, and its tests run the real daemons
  libsane-dev libcups2-dev sane-utils libsane1
  cups cups-client cups-ipp-utils printer-driver-cups-pdf
  # bridge tests: ippeveprinter needs DNS-SD (a private dbus + avahi), TLS test certs
  avahi-daemon dbus-daemon openssl
  # end-to-end tests drive the app as a person would: in tmux, over a real sshd
  tmux openssh-server openssh-client
  # benchmarks/bench_idle_bytes.py measures pvp's idle output against htop's; tests/deploy
  # verify the unit; the serve tests list processes
  htop systemd procps
  # the kiosk's video session: the bridge drives Chromium; tests shape traffic in a netns
  chromium iproute2
  git
)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

UV_VERSION=0.13.9
if ! command -v uv >/dev/null || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  tools="${XDG_CACHE_HOME:-$HOME/.cache}/pvp-relais/tools"
  if [ ! -x "$tools/bin/uv" ]; then
    echo "bootstrap: installing uv $UV_VERSION into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q "uv==$UV_VERSION"
  fi
  export PATH="$tools/bin:$PATH"
fi

uv sync --locked --all-extras --quiet
