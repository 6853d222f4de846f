import subprocess
import sys
from pathlib import Path

import pytest

TARGET_SERVER = Path(__file__).with_name("target_server.py")


@pytest.fixture(scope="module")
def target():
    """The base URL of a small HTTP server on 127.0.0.1 (`target_server.py`)."""
    process = subprocess.Popen(
        [sys.executable, str(TARGET_SERVER)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on"), line
        yield f"http://127.0.0.1:{int(line.split()[-1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)
