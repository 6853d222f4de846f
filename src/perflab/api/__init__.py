"""The probe's JSON API under ``/perf/api/``, read from the store (staff only by default)."""
