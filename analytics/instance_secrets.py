"""Secrets that are generated once into instance/ when the config names none."""

import logging
import os
import secrets
import tempfile

from flask import Flask

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Fill SECRET_KEY and ADMIN_TOKEN from instance/ files, creating them on first start."""
    for key, filename in (("SECRET_KEY", "secret_key"), ("ADMIN_TOKEN", "admin_token")):
        if not app.config[key]:
            path = os.path.join(app.instance_path, filename)
            app.config[key] = _read_or_create(path, key)


def _read_or_create(path: str, key: str) -> str:
    """Return the secret stored at `path`, writing a new one there if there is none.

    The file is written whole under a temporary name and linked into place,
    which fails if another worker got there first; then theirs is used. So
    workers starting together agree on one secret and never read half a file.
    """
    try:
        with open(path, encoding="utf-8") as stored:
            value = stored.read().strip()
        if value:
            return value
        raise ValueError(f"{path} is empty; delete it to generate a new {key}")
    except FileNotFoundError:
        pass
    folder = os.path.dirname(path)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".secret-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
            log.warning("generated %s into %s (mode 0600); read it from that file", key, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return _read_or_create(path, key)
