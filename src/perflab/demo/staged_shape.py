"""Selects the seed's staged load shape: ``locust -f locustfile.py,staged_shape.py``."""

from perflab.demo.locustfile import StagedShape


class StagedLoad(StagedShape):
    """The concrete (non-abstract) staged shape Locust picks up from this file."""
