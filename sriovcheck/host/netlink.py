"""pyroute2, imported lean: the product's one door to it (IPRoute, netns, NetlinkError, ifinfmsg).

`import pyroute2` runs the package's __init__, which imports every part of the library (conntrack, NDB,
IPDB, WireGuard, nl80211, IPVS, plan9, ...: ~160 modules, 0.15 CPU-s on a 2-core machine) before the one
submodule asked for. sriovcheck needs IPRoute and netns, and a rack run starts two sriovcheck processes
per host (benchmarks/rack_bench.py): so the package module is registered here without running its
__init__ (a `_LazyPackage`), and its submodules import as usual. The first time anything asks the
package for a name its __init__ defines (`from pyroute2 import NDB`, in a test or a plugin), the __init__
runs then, on the same module object, and the name is there: nothing that works with pyroute2 stops
working. If pyroute2 was imported before us, it is used as it is.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_PACKAGE = "pyroute2"
_lock = threading.RLock()


class _LazyPackage(types.ModuleType):
    """A package module whose __init__ runs on the first lookup of a name that is not a submodule."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # `from pyroute2 import config` asks hasattr() first and imports the submodule when it is missing.
        if importlib.util.find_spec(f"{self.__name__}.{name}") is not None:
            raise AttributeError(name)
        with _lock:
            if type(self) is _LazyPackage:
                self.__class__ = types.ModuleType  # type: ignore[assignment]  # from here on a plain module: no recursion while __init__ runs
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)
        return getattr(self, name)


def _register_lazy_package() -> None:
    with _lock:
        if _PACKAGE in sys.modules:
            return
        spec = importlib.util.find_spec(_PACKAGE)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return  # not installed (the import below says so) or not a package: import it the usual way
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _LazyPackage
        sys.modules[_PACKAGE] = module


_register_lazy_package()

from pyroute2 import netns  # noqa: E402 - after the package is registered
from pyroute2.iproute.linux import IPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402

__all__ = ["IPRoute", "NetlinkError", "ifinfmsg", "netns", "package_loaded"]


def package_loaded() -> bool:
    """Whether pyroute2's package __init__ has run in this process (tests, and the why of a slow start)."""
    module = sys.modules.get(_PACKAGE)
    return module is not None and type(module) is not _LazyPackage
