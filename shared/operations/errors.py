"""The two ways a staff step is refused, the same for every operation, so that views answer
them alike: 403 for a role that may not, a message (422) for a step that does not apply."""

from __future__ import annotations


class NotAllowed(PermissionError):
    """The user may see the case but their role may not take this step."""


class StepRefused(ValueError):
    """The step does not apply as asked; ``message`` (a msgid) says why, ``field`` where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
