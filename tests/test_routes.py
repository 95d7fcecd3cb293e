"""Route inventory: every endpoint of the app that is not explicitly public refuses an
anonymous visitor, a half-logged-in user (password but no second factor) and a user whose
role is too low; and a caseworker cannot open another caseworker's case by its id.

Adding a route without `role_required` makes this test fail until the route is protected
or added, with a reason, to PUBLIC_ENDPOINTS."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from disrupt.accounts.models import ROLES, User
from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.platforms.models import Platform
from disrupt.platforms.services import add_platform
from disrupt.victims.services import open_case
from tests.support.staff import PASSWORD, make_user, staff_client
from tests.support.web import csrf_token, post_form

# Endpoints anyone may reach, and why.
PUBLIC_ENDPOINTS = {
    "static": "CSS and JS",
    "accounts.login": "the password step",
    "accounts.second_factor": "the code step: needs the password step's session",
    "accounts.enrol": "first set-up of the second factor: needs the password step's session",
    "operations.healthz": "for a monitoring system: counts and ages, no personal data",
    "operations.metrics": "for Prometheus: behind METRICS_TOKEN (404 when unset)",
}
PUBLIC_BLUEPRINTS = {
    "victims": "the victim portal: no account, a case reference and secret",
}
# Not for staff sessions: platform partners authenticate with an API key. They must still
# refuse an anonymous request, but carry no role.
API_KEY_BLUEPRINTS = {"exchange_api"}
# Roles each protected endpoint must demand (anything else: every staff role).
EXPECTED_ROLES = {
    "accounts.users": {"admin"},
    "accounts.new_user": {"admin"},
    "accounts.change_role": {"admin"},
    "accounts.user_action": {"admin"},
    "accounts.audit_log": {"supervisor", "admin"},
    "accounts.audit_export": {"supervisor", "admin"},
}

REFUSED = (302, 401, 403)


def _is_public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or endpoint.split(".")[0] in PUBLIC_BLUEPRINTS


def _url(rule, ids: dict[str, int]) -> str:
    path = rule.rule
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        if converter == "AnyConverter":
            value = sorted(rule._converters[name].items)[0]
        elif converter in ("IntegerConverter", "NumberConverter"):
            value = str(ids.get(name, 1))
        else:
            value = "x"
        path = re.sub(r"<[^>]*\b" + name + ">", value, path)
    return path


def _protected_rules(app):
    return [r for r in app.url_map.iter_rules() if not _is_public(r.endpoint)]


def _requests(client, rule, ids, token):
    path = _url(rule, ids)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        if method == "GET":
            yield method, path, client.get(path)
        else:
            yield method, path, client.open(path, method=method, data={"csrf_token": token})


@pytest.fixture
def world(app, db):
    """Two caseworkers, a case assigned to the second, a platform."""
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        case, _ = open_case(s, age_group="adult", language="en", consent_notices=True,
                            consent_hash_sharing=False, contact=None,
                            urls=["https://picshare.test/a.jpg"], hashes=[],
                            cipher=app.extensions["disrupt.cipher"], now=utcnow())
        s.commit()
    other = make_user(app, "other@example.org")
    with db.session() as s:
        case = s.get(Case, case.id)
        case.assignee_id = other
        platform_id = s.scalar(select(Platform.id))
        s.commit()
        return {"case_id": case.id, "platform_id": platform_id, "user_id": other,
                "request_id": 1, "url_id": 1}


def _staff_rules(app):
    return [r for r in _protected_rules(app) if r.endpoint.split(".")[0] not in API_KEY_BLUEPRINTS]


def test_every_protected_route_declares_its_roles(app):
    missing = [r.endpoint for r in _staff_rules(app)
               if getattr(app.view_functions[r.endpoint], "required_roles", None) is None]
    assert not missing, f"routes without role_required (or a reason to be public): {missing}"
    for endpoint, roles in EXPECTED_ROLES.items():
        declared = set(app.view_functions[endpoint].required_roles or ROLES)
        assert declared == roles, (endpoint, declared)


def test_anonymous_and_half_logged_in_users_are_refused_everywhere(app, world):
    rules = _protected_rules(app)
    assert len(rules) >= 15
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/console/login")
    half = app.test_client()
    post_form(half, "/console/login", {"email": "other@example.org", "password": PASSWORD})
    half_token = csrf_token(half, "/console/login/code")
    for client, tok in ((anonymous, token), (half, half_token)):
        for rule in rules:
            for method, path, response in _requests(client, rule, world, tok):
                assert response.status_code in REFUSED, (method, path, response.status_code)
                if response.status_code == 302:
                    assert "/console/login" in response.location, (method, path)


def test_users_without_the_role_are_refused(app, world):
    clients = {role: staff_client(app, f"{role}@example.org", role) for role in ROLES}
    checked = 0
    for rule in _staff_rules(app):
        roles = set(app.view_functions[rule.endpoint].required_roles or ROLES)
        for role in set(ROLES) - roles:
            client = clients[role]
            token = csrf_token(client, "/console/account")
            for method, path, response in _requests(client, rule, world, token):
                assert response.status_code == 403, (role, method, path, response.status_code)
                checked += 1
    assert checked >= 10


def test_a_caseworker_cannot_reach_another_caseworkers_case(app, db, world):
    client = staff_client(app, "cw@example.org")
    token = csrf_token(client, "/console/account")
    case_rules = [r for r in _staff_rules(app) if "case_id" in r.arguments]
    assert len(case_rules) >= 6
    for rule in case_rules:
        roles = app.view_functions[rule.endpoint].required_roles
        if roles and "caseworker" not in roles:
            continue
        for method, path, response in _requests(client, rule, world, token):
            assert response.status_code == 404, (method, path, response.status_code)
    with db.session() as s:
        case = s.get(Case, world["case_id"])
        assert case.assignee_id == world["user_id"] and case.status == "new"
        assert s.scalar(select(User.id).where(User.email == "cw@example.org"))
    # The same case is in reach of a supervisor.
    supervisor = staff_client(app, "sup@example.org", "supervisor")
    assert supervisor.get(f"/console/cases/{world['case_id']}").status_code == 200


def test_the_inventory_catches_an_unprotected_route(app):
    app.add_url_rule("/console/leak", "leak", lambda: "case data")
    missing = [r.endpoint for r in _staff_rules(app)
               if getattr(app.view_functions[r.endpoint], "required_roles", None) is None]
    assert missing == ["leak"]
    assert app.test_client().get("/console/leak").status_code not in REFUSED
