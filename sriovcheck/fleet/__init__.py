"""A rack at once: the fleet report, the shared switch evidence read once per switch, the emulated rack."""
