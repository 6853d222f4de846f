"""The /perf/ dashboard: server-rendered pages over the probe's store, inside the app.

Every page reads the store through ``StoreReader``'s bounded listings (rollups, findings,
LIMITed request lists), never a scan of all requests, so a page costs the same at a
million requests as at a thousand. Pages are rendered by the dashboard's own template
engine (``rendering``), so they work whatever template backends the app configures.
"""
