#!/bin/bash
# The seed procedure ("Extend SRIOV VFs to Containers", /work/shared/reference/seed/) scripted as-is:
# what a user would run instead of sriovcheck. benchmarks/run.py times each part.
#
#   seed_procedure.sh attach  PLAN   per container: docker run -d, /var/run/netns/<pid> symlink,
#                                    ip link set <vf> netns <pid>, rename to eth1, up, addr add
#   seed_procedure.sh check   PLAN   per container: docker exec ping -c1 <gw>, docker exec arp -a, then
#                                    ONE NEW switch login per container for its MAC and ARP table rows
#   seed_procedure.sh cleanup PLAN   docker rm -f and the netns symlinks (the seed has no clean-up)
#   seed_procedure.sh floor   PREFIX N    docker run -d of N containers and nothing else
#   seed_procedure.sh floor-cleanup PREFIX N
#
# PLAN: one line per container: NAME VF_NETDEV ADDRESS/PREFIX GATEWAY SWITCH_PORT
# Environment: IMAGE (the lab image), NETWORK (docker network, default none, as in the generated
# topologies), PYTHON (with netmiko), SWITCH_HOST, SWITCH_PORT_SSH, SWITCH_USER and the password in
# SRIOVCHECK_SWITCH_PASSWORD. The seed's `ip link set eno2 vf 0 vlan 200` is not here: a veth "VF"
# has no VF VLAN; run.py sets the VLANs through the lab's host driver before timing.
set -u
mode=$1
IMAGE=${IMAGE:?IMAGE not set}
NETWORK=${NETWORK:-none}

attach() {
  local name vf addr gw port pid
  mkdir -p /var/run/netns/
  while read -r name vf addr gw port; do
    docker run -d --name "$name" --network "$NETWORK" "$IMAGE" >/dev/null
    pid=$(docker inspect "$name" -f '{{.State.Pid}}')
    echo "$pid" >>"$1.pids"
    ln -sfT "/proc/$pid/ns/net" "/var/run/netns/$pid"
    ip link set "$vf" netns "$pid"
    ip netns exec "$pid" ip link set "$vf" name eth1
    ip netns exec "$pid" ip link set eth1 up
    ip netns exec "$pid" ip addr add "$addr" dev eth1
  done <"$1"
}

# A user's script: a new Python process, a new SSH login, two commands, per container.
SWITCH_ONE_LINER='
import os, sys
from netmiko import ConnectHandler
c = ConnectHandler(device_type="juniper_junos", host=os.environ["SWITCH_HOST"], port=int(os.environ["SWITCH_PORT_SSH"]),
                   username=os.environ["SWITCH_USER"], password=os.environ["SRIOVCHECK_SWITCH_PASSWORD"],
                   use_keys=False, allow_agent=False)
print(c.send_command("show ethernet-switching table interface " + sys.argv[1]))
print(c.send_command("show arp no-resolve | match " + sys.argv[2]))
c.disconnect()
'

check() {
  local name vf addr gw port
  while read -r name vf addr gw port <&3; do
    echo "=== $name ${addr%/*}"
    docker exec "$name" ping -c1 -W2 "$gw"
    docker exec "$name" arp -a
    "$PYTHON" -c "$SWITCH_ONE_LINER" "$port" "${addr%/*}"
  done 3<"$1"
}

cleanup() {
  local name vf addr gw port pid
  while read -r name vf addr gw port; do
    docker rm -f "$name" >/dev/null 2>&1
  done <"$1"
  if [ -f "$1.pids" ]; then
    while read -r pid; do rm -f "/var/run/netns/$pid"; done <"$1.pids"
    rm -f "$1.pids"
  fi
  return 0
}

case $mode in
  attach) attach "$2" ;;
  check) check "$2" ;;
  cleanup) cleanup "$2" ;;
  floor) for ((i = 0; i < $3; i++)); do docker run -d --name "$2-$i" --network "$NETWORK" "$IMAGE" >/dev/null; done ;;
  floor-cleanup) for ((i = 0; i < $3; i++)); do docker rm -f "$2-$i" >/dev/null 2>&1; done; exit 0 ;;
  *) echo "usage: $0 attach|check|cleanup PLAN | floor|floor-cleanup PREFIX N" >&2; exit 2 ;;
esac
