#!/bin/sh
TAG=$1; O=/work/scratch/vmcarrier/out
exec > $O/$TAG.guest 2>&1
. /work/scratch/vmcarrier/prelude.sh
set -x
for m in igb igbvf 8021q; do modprobe $m; done
uname -a; cat /proc/cmdline
rm -rf $O/rec; cd /work/wt/vmcarrier && .venv/bin/python tests/data/igb-guest/record.py $O/rec; echo "record rc=$?"
dmesg | grep -iE 'igb|vf' | grep -v "^\[ *[0-9.]*\] pci 0000:00:0[0-9]" > $O/rec/dmesg.txt
