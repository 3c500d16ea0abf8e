#!/usr/bin/env bash
# Installs what PVP Relais needs on a Debian machine: Debian packages (as root), uv,
# then the locked Python packages into .venv. Safe to run again.
#   source scripts/bootstrap.sh app    # the staff app only (scripts/demo.sh)
#   source scripts/bootstrap.sh        # everything: the bridge's bindings and what the tests run
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-test}"

APP_PACKAGES=(python3 python3-venv python3-pip)
DEBIAN_PACKAGES=(
  "${APP_PACKAGES[@]}" gcc
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
  wanted=("${DEBIAN_PACKAGES[@]}")
  [ "$PROFILE" = app ] && wanted=("${APP_PACKAGES[@]}")
  for pkg in "${wanted[@]}"; do
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

if [ "$PROFILE" = app ]; then
  uv sync --locked --inexact --quiet  # keeps a test set-up's extras if there is one
else
  uv sync --locked --all-extras --quiet
fi
