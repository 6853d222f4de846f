"""The recorders the probe installs at startup; see ``base.Recorder``."""

from perflab.probe.recorders.base import Recorder
from perflab.probe.recorders.cache import CacheRecorder
from perflab.probe.recorders.sql import SqlRecorder
from perflab.probe.recorders.templates import TemplateRecorder

RECORDERS: list[Recorder] = [SqlRecorder(), CacheRecorder(), TemplateRecorder()]

__all__ = ["RECORDERS", "CacheRecorder", "Recorder", "SqlRecorder", "TemplateRecorder"]
