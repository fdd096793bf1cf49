"""Role checks for staff pages. A page a role may not use does not exist for it (404)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from shared.models import Role


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != Role.ADMIN:
            abort(404)
        return view(*args, **kwargs)

    return wrapped
