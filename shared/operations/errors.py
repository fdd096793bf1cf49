"""Everything an operation declines, as one family of exceptions, so that every page and the
API answer alike (mapped once, in :mod:`shared.web`):

- :class:`StepRefused`: the step or its input does not apply as asked (422; a form shows the
  message at its field);
- :class:`NotAllowed`: the user may see the case but their role may not take this step (403);
- :class:`BadFilter`: a list's filter or page link that cannot be read (400).

Each carries ``message``, a msgid whose ``%(name)s`` values are in ``params`` (translated
where it is shown), and ``field``, the input it concerns (None: the whole of it).
``str(error)`` is the English text, for logs and the command line.

marshmallow's ValidationError stays at the boundary: schemas raise it while loading input in
views; operations raise these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.i18n import N_, Formatted
from shared.schemas.case_step import REASON_MAX

#: Where a refusal points: a field's name, a path into nested input (``("items", 3,
#: "code")``: the code of the form's row 3), or several of these at once.
Field = str | tuple[str | int, ...] | Sequence[str | tuple[str | int, ...]] | None


class Refusal(Exception):
    """What every operation raises when it declines; see the module's docstring."""

    def __init__(
        self, message: str, field: Field = None, *, detail: str | None = None, **params: Any
    ) -> None:
        # ``detail``: a fuller English text for the command line, where there is one.
        super().__init__(detail or (message % params if params else message))
        self.message = message
        self.field = field
        self.params = params

    @property
    def text(self) -> Formatted | str:
        """The message as a msgid that carries its values (see :class:`Formatted`)."""
        return Formatted(self.message, **self.params) if self.params else self.message

    @property
    def messages(self) -> dict[str | int, Any]:
        """The refusal as marshmallow reports errors: ``{field: [message]}``, nested along a
        path, ``_schema`` when it concerns no one field."""
        fields = self.field if isinstance(self.field, list) else [self.field]
        errors: dict[str | int, Any] = {}
        for field in fields:
            path = (field,) if not isinstance(field, tuple) else field
            if path == (None,):
                path = ("_schema",)
            level = errors
            for key in path[:-1]:
                level = level.setdefault(key, {})
            level.setdefault(path[-1], []).append(self.text)
        return errors


class StepRefused(Refusal):
    """The step does not apply as asked; ``message`` says why, ``field`` where."""


class NotAllowed(Refusal):
    """The user may see the case but their role may not take this step."""

    def __init__(self, step: str) -> None:
        super().__init__(N_("Your role may not do this."), detail=f"not allowed: {step}")
        self.step = step


class BadFilter(Refusal):
    """A filter or a page link of a list that cannot be read: a link was cut or tampered
    with (answered 400, not as a form's mistake)."""

    def __init__(self, name: str) -> None:
        super().__init__(N_("The filter %(name)s is not valid."), name, name=name)


def stated_reason(reason: str | None, *, required: bool) -> str:
    """The reason staff gave for a step, trimmed; refused when it is missing but ``required``,
    or longer than REASON_MAX."""
    reason = (reason or "").strip()
    if required and not reason:
        raise StepRefused(N_("Give the reason."), "reason")
    if len(reason) > REASON_MAX:
        raise StepRefused(N_("Keep the reason to 1000 characters or fewer."), "reason")
    return reason
