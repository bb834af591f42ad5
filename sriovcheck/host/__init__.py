"""Host side: the HostDriver seam (driver.py), the real Linux SR-IOV driver (linux.py),
and namespace operations shared by real and emulated hosts (netns.py)."""
