"""Re-record VLAN-list requests on the real kernel after sriovcheck padded IFLA_VF_VLAN_INFO.

Guest only (root, igb + igbvf loaded, PF eth0 without VFs); prints one JSON line, "G6RESULT {...}",
which became vlan-list-after-fix.json.
"""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from sriovcheck.host.driver import VfConfig
from sriovcheck.host.linux import LinuxHostDriver  # importing it pads IFLA_VF_VLAN_INFO

SPECS = {
    "8021ad": {"vlan": [{"vlan": 10, "qos": 0, "proto": 0x88A8}]},
    "8021q_list": {"vlan": [{"vlan": 10, "qos": 2, "proto": 0x8100}]},
}


def main() -> None:
    ipr = IPRoute()
    index = ipr.link_lookup(ifname="eth0")[0]
    ipr.link("set", index=index, state="up")
    Path("/sys/class/net/eth0/device/sriov_numvfs").write_text("2")
    time.sleep(2)
    out: dict[str, Any] = {}
    for name, spec in SPECS.items():
        try:
            ipr.link("set", index=index, vf={"vf": 0, **spec})
            out[name] = "ok"
        except NetlinkError as exc:
            out[name] = [exc.code, errno.errorcode.get(exc.code), str(exc.args)]
    driver = LinuxHostDriver(Path("/sys"), ipr_factory=IPRoute)
    out["after_list_8021q"] = vars(driver.get_vf_config("eth0", 0))
    try:
        driver.set_vf_config("eth0", 1, VfConfig(vlan=10, vlan_proto="802.1ad"))
        out["driver_8021ad"] = "ok"
    except Exception as exc:  # recorded, not handled
        out["driver_8021ad"] = str(exc)
    print("G6RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
