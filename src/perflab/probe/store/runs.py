"""Reads of the load-test runs registered in a store (``perflab_run``, saved by ``perflab run``
through ``StoreBatches.save_run``): the dashboard's runs page and a request's run."""

from __future__ import annotations

from perflab.probe.store.schema import RunRow, StoreSchema

_RUN_COLUMNS = ", ".join(RunRow._fields)


class RunReads(StoreSchema):
    """Runs as dicts of ``RunRow``'s fields. A store an older perflab made has no run table:
    a read-only reader of it finds no runs."""

    def _has_runs(self) -> bool:
        return not self.database.read_only or bool(self.columns_of("perflab_run"))

    def runs(self, limit: int = 50) -> list[dict]:
        """The newest runs first."""
        if not self._has_runs():
            return []
        return self._read(
            f"SELECT {_RUN_COLUMNS} FROM perflab_run ORDER BY started DESC, run_id LIMIT %s",
            [limit],
        )

    def run(self, run_id: str) -> dict | None:
        if not self._has_runs():
            return None
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM perflab_run WHERE run_id = %s", [run_id])
        return rows[0] if rows else None

    def run_of_request(self, request_id: str) -> dict | None:
        """The run whose ``request_id_prefix`` starts ``request_id`` (the longest such prefix,
        then the newest run), or None. Compared as strings, not LIKE: a prefix may hold
        ``_`` or ``%``."""
        if not request_id or not self._has_runs():
            return None
        rows = self._read(
            f"""SELECT {_RUN_COLUMNS} FROM perflab_run
                WHERE request_id_prefix <> ''
                AND SUBSTR(CAST(%s AS TEXT), 1, LENGTH(request_id_prefix)) = request_id_prefix
                ORDER BY LENGTH(request_id_prefix) DESC, started DESC LIMIT 1""",
            [request_id],
        )
        return rows[0] if rows else None
