#!/usr/bin/env bash
# Install the system packages Slipway needs and start what a fresh machine lacks.
# Idempotent: safe to run again. Needs root for apt-get and dockerd; without it,
# prints the exact commands to run instead.
#
#   scripts/provision.sh            packages the platform needs (git, bubblewrap, ripgrep, docker)
#   scripts/provision.sh --ci       also what the tests need (chromium, mmdebstrap, python3-pytest)
set -euo pipefail

want_ci=0
[ "${1:-}" = "--ci" ] && want_ci=1

packages=(git bubblewrap ripgrep docker.io mmdebstrap python3 python3-pytest)
[ $want_ci = 1 ] && packages+=(chromium fonts-dejavu-core)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 99; fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
     ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "provision: could not install packages (no root?). Run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# Docker: start a daemon when none answers. --bridge=none --iptables=false keeps it
# off private address ranges; sandboxes run with network_mode=none anyway.
if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  if [ -z "${DOCKER_HOST:-}" ]; then
    echo "provision: starting dockerd"
    as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/var/log/dockerd.log 2>&1 &' || {
      echo "provision: cannot start dockerd without root; the bubblewrap backend will be used" >&2
    }
    for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

# PostgreSQL and Redis: the machine normally runs them; start them if they do not answer.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ -d /etc/postgresql ]; then
    echo "provision: starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "provision: starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/slipway.log || true
  fi
fi
for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done
echo "provision: done"
