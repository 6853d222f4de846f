"""The commands that exist for the reference app: `perflab seed`, `serve` and `demo`."""
