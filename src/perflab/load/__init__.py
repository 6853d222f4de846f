"""The load runner: Locust as the engine, with exact percentiles, an open model and SLOs.

Modules that do not need Locust (histogram, stats, slo, arrival schedules, monitor) import
nothing from it, so the probe-side code and the unit tests never pay for gevent's patching.
"""
