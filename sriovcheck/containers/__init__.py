"""Containers: the runtime seam (runtime.py) and its docker SDK implementation (docker_runtime.py)."""
