import errno
import json
import time
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

import sriovcheck.host.linux  # noqa: F401  (pads IFLA_VF_VLAN_INFO)
from sriovcheck.host.driver import VfConfig
from sriovcheck.host.linux import LinuxHostDriver

ipr = IPRoute(); i = ipr.link_lookup(ifname="eth0")[0]
ipr.link("set", index=i, state="up")
Path("/sys/class/net/eth0/device/sriov_numvfs").write_text("2"); time.sleep(2)
out = {}
for name, spec in {"8021ad": {"vlan": [{"vlan": 10, "qos": 0, "proto": 0x88A8}]}, "8021q_list": {"vlan": [{"vlan": 10, "qos": 2, "proto": 0x8100}]}}.items():
    try:
        ipr.link("set", index=i, vf={"vf": 0, **spec}); out[name] = "ok"
    except NetlinkError as e:
        out[name] = [e.code, errno.errorcode.get(e.code), str(e.args)]
d = LinuxHostDriver(Path("/sys"), ipr_factory=IPRoute)
out["after_list_8021q"] = vars(d.get_vf_config("eth0", 0))
try:
    d.set_vf_config("eth0", 1, VfConfig(vlan=10, vlan_proto="802.1ad")); out["driver_8021ad"] = "ok"
except Exception as e:
    out["driver_8021ad"] = str(e)
print("G6RESULT " + json.dumps(out))
