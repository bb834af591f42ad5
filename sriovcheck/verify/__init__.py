"""Verification: the result model (results.py), the checks and the engine that runs them."""
