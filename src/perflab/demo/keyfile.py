"""Secrets the reference app keeps in its data directory: made once, private, shared.

The JWT signing key and the dashboard's staff password must never be fixed values in the
source (anyone could use them against a running demo), yet every gunicorn worker and every
later start must agree on them. Each is one random value in a 0600 file of the data
directory, written to a private temporary file and linked into place, so processes starting
at once agree on one complete value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def kept_secret(directory: Path, name: str, instead: str) -> str:
    """The secret in ``directory/name``, made on first use; ``instead`` is what a person can
    do when the directory cannot hold it (one line of the error)."""
    path = directory / name
    if directory.exists() and not directory.is_dir():
        raise ImproperlyConfigured(f"the data directory {directory} is not a directory")
    try:
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            partial = directory / f".{name}.{os.getpid()}"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(secrets.token_urlsafe(50))
            try:
                os.link(partial, path)  # fails if another process made it first: use theirs
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        value = path.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"cannot keep the demo's {name} in {path} ({exc.strerror}): {instead}"
        ) from None
    if len(value) < 32:
        raise ImproperlyConfigured(f"{path} holds no usable secret: delete it to make one")
    return value
