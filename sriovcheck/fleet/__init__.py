"""A rack at once: the fleet report and the shared switch evidence read once per switch (the emulated rack is lab/rack.py)."""
