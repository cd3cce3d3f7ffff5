#!/usr/bin/env bash
# Installs the Debian packages that building and testing mird need, only when one is missing.
# Idempotent: a second run does nothing. Needs root (or sudo) only when something is missing.
set -euo pipefail
build_pkgs=(gcc make pkg-config libdnnl-dev libopenblas-dev libutf8proc-dev libjansson-dev libcmocka-dev nettle-dev
            libopenmpi-dev openmpi-bin)
test_pkgs=(clang libclang-rt-14-dev python3-numpy)
want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
