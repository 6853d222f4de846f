"""``DATABASE_ROUTERS = ["perflab.router.ProbeStoreRouter"]``: keeps the probe's store
alias to itself when ``PERFLAB = {"STORE": {"ALIAS": "perflab"}}``.

The probe creates and writes its own tables on that alias; the router makes sure the
app's models are never migrated into, read from or written to it, and that nothing
of perflab's lands in the app's database.
"""

from __future__ import annotations


def _store_alias() -> str | None:
    from django.conf import settings

    return (getattr(settings, "PERFLAB", None) or {}).get("STORE", {}).get("ALIAS")


class ProbeStoreRouter:
    def db_for_read(self, model, **hints):
        return None  # the app's models go where the app's other routers say

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool | None:
        if db == _store_alias():
            return False  # the store alias holds the probe's tables only, created by the probe
        return None
