"""gunicorn's logger for the access log of both services (deploy/gunicorn/*.conf.py)."""

from __future__ import annotations

from gunicorn.glogging import Logger

from shared.secret_paths import loggable_path


class AccessLogger(Logger):
    """Writes ``%(U)s`` without the secret of a one-time or rating link."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = loggable_path(atoms["U"])
        return atoms
