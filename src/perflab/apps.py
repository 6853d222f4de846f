from django.apps import AppConfig


class PerflabConfig(AppConfig):
    """``INSTALLED_APPS += ["perflab"]``: validates ``PERFLAB`` and installs the probe."""

    name = "perflab"
    label = "perflab"
    verbose_name = "perflab probe"

    def ready(self) -> None:
        from perflab.probe.probe import get_probe

        get_probe()  # settings errors surface at startup, as ImproperlyConfigured
