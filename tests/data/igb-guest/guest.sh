#!/bin/sh
# usage (guest, as root): sh guest.sh TAG [OUTDIR]; OUTDIR must be writable from the guest (a vng --rwdir)
TAG=$1; O=${2:-/work/scratch/vmcarrier/out}
exec > $O/$TAG.guest 2>&1
# vng links the modules from /var/cache/sriovcheck/vm/kernel, which the guest hides under a tmpfs
[ -e /lib/modules/$(uname -r)/modules.dep ] || umount /var/cache
set -x
for m in igb igbvf 8021q; do modprobe $m; done
uname -a; cat /proc/cmdline
rm -rf $O/rec; cd "$(dirname "$0")/../../.." && .venv/bin/python tests/data/igb-guest/record.py $O/rec; echo "record rc=$?"
dmesg | grep -iE 'igb|vf' | grep -v "^\[ *[0-9.]*\] pci 0000:00:0[0-9]" > $O/rec/dmesg.txt
