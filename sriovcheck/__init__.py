"""sriovcheck: provision SR-IOV VFs with VLANs into containers and prove, host and switch side, that they work."""

__version__ = "0.1.0"
