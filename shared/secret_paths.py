"""Addresses that carry a secret in their path: a one-time link to set a password
(``/invitation/<token>``) and the rating link in an answer (``/rate/<token>``). Logs keep the
path without the secret, since whoever reads a log could otherwise use the link."""

from __future__ import annotations

import re

#: Slashes repeated too (``//rate/<token>``: a link made from a base address ending in "/"),
#: which the server takes as the same address.
_SECRET_PATH = re.compile(r"^(/+(?:invitation|rate)/+)[^/]+")


def loggable_path(path: str) -> str:
    """The path as it may be written to a log."""
    return _SECRET_PATH.sub(r"\1…", path)
