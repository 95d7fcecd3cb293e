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


def sees_case(assignee_id: int | None) -> bool:
    """Caseworkers see unassigned cases and their own; supervisors and admins all."""
    return bool(current_user.can_see_all_cases()) or assignee_id in (None, current_user.id)


def own_cases_only() -> int | None:
    """The caseworker whose cases (and the unassigned ones) a list is limited to, or None
    when the user sees all cases."""
    return None if current_user.can_see_all_cases() else int(current_user.id)
