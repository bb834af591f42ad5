"""The emulated switch's EOS and NX-OS command lines (the Junos one is sriovcheck.lab.junos)."""
