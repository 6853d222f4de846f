"""The reference app's settings with the probe's writer tuned for the fault-injection suite
(tests/integration/test_store_faults.py): how often it writes, how much it may queue."""

import os

from perflab.demo.settings import *  # noqa: F403

PERFLAB = {
    **PERFLAB,  # noqa: F405
    "FLUSH_INTERVAL_S": float(os.environ.get("FAULT_FLUSH_INTERVAL_S", "0.2")),
    "QUEUE_SIZE": int(os.environ.get("FAULT_QUEUE_SIZE", "2000")),
}
