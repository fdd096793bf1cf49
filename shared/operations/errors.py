"""The two ways a staff step is refused, the same for every operation, so that views answer
them alike: 403 for a role that may not, a message (422) for a step that does not apply."""

from __future__ import annotations

from shared.i18n import N_

#: The longest reason staff may give for a step (a transfer, a refusal, an extension...).
REASON_MAX = 1000


class NotAllowed(PermissionError):
    """The user may see the case but their role may not take this step."""


class StepRefused(ValueError):
    """The step does not apply as asked; ``message`` (a msgid) says why, ``field`` where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def stated_reason(
    reason: str | None, *, required: bool, refusal: type[StepRefused] = StepRefused
) -> str:
    """The reason staff gave for a step, trimmed; refused (as ``refusal``) when it is missing
    but ``required``, or longer than REASON_MAX."""
    reason = (reason or "").strip()
    if required and not reason:
        raise refusal(N_("Give the reason."), "reason")
    if len(reason) > REASON_MAX:
        raise refusal(N_("Keep the reason to 1000 characters or fewer."), "reason")
    return reason
