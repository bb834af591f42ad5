"""sriovcheck.host.netlink: pyroute2 without its package __init__ (which imports every part of pyroute2),
and pyroute2 whole again the moment anything asks the package for a name of its own. Each case runs in
a fresh interpreter: what is imported is the point."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_product_modules_that_talk_netlink_leave_the_rest_of_pyroute2_unimported() -> None:
    out = run("""
        import sys
        import sriovcheck.workflow, sriovcheck.host.linux, sriovcheck.host.netns, sriovcheck.lab.fabric
        import sriovcheck.lab.host_driver
        from sriovcheck.host import netlink
        from sriovcheck.lab.fabric import list_namespaces
        list_namespaces()  # the netns module, used
        loaded = sorted(m for m in sys.modules if m.startswith("pyroute2"))
        print(netlink.package_loaded(), "pyroute2.ndb" in loaded, "pyroute2.ipdb" in loaded, "pyroute2.conntrack" in loaded)
        print(netlink.IPRoute.__module__)
    """)
    assert out.split("\n")[:2] == ["False False False False", "pyroute2.iproute.linux"]


def test_a_name_of_the_package_loads_it_whole_on_the_same_module() -> None:
    out = run("""
        import sys
        from sriovcheck.host import netlink
        from pyroute2 import config  # a submodule: still lean
        print(netlink.package_loaded())
        from pyroute2 import NDB, IPRoute  # names its __init__ defines
        import pyroute2
        print(netlink.package_loaded(), IPRoute is netlink.IPRoute, sys.modules["pyroute2"] is pyroute2,
              pyroute2.__version__ not in ("", "unknown"), "pyroute2.ndb.main" in sys.modules, NDB.__name__)
        try:
            pyroute2.no_such_name
        except AttributeError:
            print("AttributeError")
    """)
    assert out.split("\n")[:3] == ["False", "True True True True True NDB", "AttributeError"]


def test_pyroute2_imported_before_is_used_as_it_is() -> None:
    out = run("""
        import pyroute2
        from sriovcheck.host import netlink
        print(netlink.package_loaded(), netlink.IPRoute is pyroute2.IPRoute, type(pyroute2).__name__)
    """)
    assert out.split("\n")[0] == "True True module"
