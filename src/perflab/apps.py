from django.apps import AppConfig


class PerflabConfig(AppConfig):
    """``INSTALLED_APPS += ["perflab"]``: validates ``PERFLAB``, installs the probe, and
    registers the setup checks ``manage.py check`` runs (``perflab.checks``)."""

    name = "perflab"
    label = "perflab"
    verbose_name = "perflab probe"

    def ready(self) -> None:
        from django.core import checks
        from django.core.exceptions import ImproperlyConfigured
        from django.db.utils import ConnectionDoesNotExist

        from perflab.checks import CHECKS
        from perflab.probe.probe import get_probe

        for check, tags in CHECKS:
            checks.register(check, *tags)
        try:
            get_probe()  # settings errors surface at startup, as ImproperlyConfigured
        except ConnectionDoesNotExist as exc:  # a STORE alias missing from DATABASES
            raise ImproperlyConfigured(
                f"PERFLAB['STORE'] names a database alias that is not in DATABASES ({exc})"
            ) from None
