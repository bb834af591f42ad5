"""The topology file: model (model.py), loading with line marks (load.py), semantic rules (rules.py)."""

from sriovcheck.topology.load import LoadedTopology, load_text, load_topology
from sriovcheck.topology.model import Container, Pf, Topology, VfSpec, Vlan

__all__ = ["Container", "LoadedTopology", "Pf", "Topology", "VfSpec", "Vlan", "load_text", "load_topology"]
