#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine, as root: system packages, the docker
# engine (started and waited for), and the Python environment in .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (sriovcheck creates network namespaces and moves interfaces)" >&2
  exit 3
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx ping || need+=(busybox-static)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
if [ "${SRIOVCHECK_SETUP_CHROMIUM:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The fleet playbook's SSH test (tests/integration/test_fleet_ssh.py) starts an sshd of its own on
# loopback (own config, host key, port); the package's own ssh service is not started by this install
# (a policy-rc.d refuses service starts while it runs, when the machine has none).
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then
  log "installing openssh-server and openssh-client (the fleet playbook's SSH test; its service is not started)"
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null || { [ -z "$policy" ] || rm -f "$policy"; exit 3; }
  [ -z "$policy" ] || rm -f "$policy"
fi

# The VM lab (`sriovcheck lab vm-run`, README: The VM lab): QEMU 8.1+ with the igb NIC from
# bookworm-backports (Debian 12 ships 7.2) through a sources list of our own, and a Debian kernel
# unpacked (never installed) under /var/cache/sriovcheck/vm. Only with SRIOVCHECK_SETUP_VM=1 (test.sh sets it).
if [ "${SRIOVCHECK_SETUP_VM:-0}" = 1 ]; then
  VM_CACHE=${SRIOVCHECK_VM_CACHE:-/var/cache/sriovcheck/vm}
  VM_KERNEL=${SRIOVCHECK_VM_KERNEL:-6.1.0-50-amd64}
  qemu_ok() { command -v qemu-system-x86_64 >/dev/null 2>&1 && qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; }
  export DEBIAN_FRONTEND=noninteractive
  if ! qemu_ok || ! command -v depmod >/dev/null 2>&1; then
    . /etc/os-release
    if [ "${VERSION_CODENAME:-}" = bookworm ]; then
      srcdir=$(mktemp -d /tmp/sriovcheck-apt.XXXXXX)
      cat > "$srcdir/backports.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      apt_vm=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$srcdir")
      log "installing QEMU (igb NIC) from bookworm-backports and kmod, for the VM lab"
      apt-get "${apt_vm[@]}" update -qq >/dev/null
      apt-get "${apt_vm[@]}" install -y -qq -t bookworm-backports --no-install-recommends qemu-system-x86 kmod >/dev/null
      rm -rf "$srcdir"
    else
      log "installing QEMU and kmod for the VM lab (needs QEMU 8.1 or later for -device igb)"
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends qemu-system-x86 kmod >/dev/null
    fi
    qemu_ok || { echo "setup: this QEMU has no igb NIC (needs 8.1 or later)" >&2; exit 3; }
  fi
  if [ ! -f "$VM_CACHE/kernel/lib/modules/$VM_KERNEL/modules.dep" ]; then
    log "fetching the Debian kernel linux-image-$VM_KERNEL for the VM lab into $VM_CACHE (unpacked, not installed)"
    mkdir -p "$VM_CACHE"
    ( cd "$VM_CACHE" && apt-get download -qq "linux-image-$VM_KERNEL" >/dev/null 2>&1 ) || {
      apt-get update -qq >/dev/null; ( cd "$VM_CACHE" && apt-get download -qq "linux-image-$VM_KERNEL" >/dev/null ); }
    rm -rf "$VM_CACHE/kernel.tmp"
    dpkg-deb -x "$VM_CACHE"/linux-image-"$VM_KERNEL"_*.deb "$VM_CACHE/kernel.tmp"
    depmod -a -b "$VM_CACHE/kernel.tmp" "$VM_KERNEL"
    rm -rf "$VM_CACHE/kernel"; mv "$VM_CACHE/kernel.tmp" "$VM_CACHE/kernel"
  fi
  log "VM lab: $(qemu-system-x86_64 --version | head -1), kernel $VM_KERNEL in $VM_CACHE/kernel"
fi

docker_ok() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! docker_ok; then
  # A stale pid file from a killed engine makes dockerd refuse to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/sriovcheck-dockerd.log)"
    nohup dockerd >/var/log/sriovcheck-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker_ok && break; sleep 0.5; done
  docker_ok || { echo "setup: the docker engine did not start; see /var/log/sriovcheck-dockerd.log" >&2; exit 3; }
fi
log "docker engine $(docker version --format '{{.Server.Version}}')"

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    log "installing python3-venv"
    apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv; "$PY" -m venv .venv
  fi
fi
stamp=.venv/.sriovcheck-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing sriovcheck and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import sriovcheck, netmiko, pyroute2, docker, asyncssh' || { echo "setup: pip install failed" >&2; exit 3; }
  touch "$stamp"
fi
# Bytecode for the checkout, as pip writes it for an installed wheel: an editable install has none, and
# with PYTHONDONTWRITEBYTECODE set (as on our CI machines) every sriovcheck process - the tests start
# hundreds - would compile the modules it imports from source again (~0.2 CPU-s each). Only stale files
# are compiled again.
.venv/bin/python -m compileall -q sriovcheck >/dev/null
log "ready: .venv/bin/sriovcheck"
