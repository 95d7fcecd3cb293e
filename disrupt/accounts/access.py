"""Who may open a console page: the access rule every staff blueprint applies."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged in with both factors, and (when roles are given) holding one of them.

    The roles are kept on the view (``required_roles``) so the route inventory test can
    check every route."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @login_required
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_roles = roles
        return wrapped
    return decorator
