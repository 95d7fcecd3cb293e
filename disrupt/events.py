"""Named domain events. A service emits them inside its transaction; each feature listens
for what concerns its own tables (disrupt/listeners.py connects them in every process).

Every event is sent with the case as sender and `session`, `now` as keyword arguments.
"""
from __future__ import annotations

from blinker import Namespace

_events = Namespace()

#: Addresses were added to a case: the platforms feature attaches each to the platform its
#: host belongs to (it keeps `reported_urls.platform_id`, as `reattach_urls` does when a
#: platform's domains change); the dashboard counts them. Also given `urls`, the new
#: reported URLs, flushed (they have ids).
urls_reported = _events.signal("urls-reported")

#: A case's status moved (cases.services.set_status, the one writer): the dashboard folds
#: its addresses again (the case group of the statistics). Sent with the case as sender and
#: `session`, `now`, `old` (the status before).
case_status_changed = _events.signal("case-status-changed")

#: A caseworker classified the case (age group): the dashboard folds its addresses again.
case_classified = _events.signal("case-classified")

#: Checks were recorded (monitoring.services.record_checks, the one writer of checks and of
#: the check state machine's columns). Sent with None as sender and `session`, `now`,
#: `url_ids` (the addresses checked) and `removal_moved` (ids of the cases one of whose
#: addresses went in or out of "removed"): the dashboard folds the addresses again, the
#: platforms feature reads the cases' deadlines again.
checks_recorded = _events.signal("checks-recorded")

#: Addresses changed state outside a check (a caseworker resumed checking an address given
#: up on). Sent with the case id as sender and `session`, `now`, `url_ids`.
url_state_changed = _events.signal("url-state-changed")

#: Addresses were attached to another platform (platforms owns reported_urls.platform_id).
#: Sent with None as sender and `session`, `now`, `url_ids`.
urls_attached = _events.signal("urls-attached")

#: Removal requests were created or changed what the statistics read of them (status, sent
#: time, deadline, legal basis, platform, addresses). Sent by the platforms feature with
#: None as sender and `session`, `now`, `request_ids` (flushed: they have ids).
requests_changed = _events.signal("requests-changed")

#: A check saw the case's picture on a reported URL for the first time (online, rule
#: media_match): the evidence feature queues a capture. Sent with the case id as sender and
#: `session`, `now`, `reported_url_id`, `url` and `outcome` (the CheckOutcome). Listeners
#: must not touch the network: they run inside the check's transaction.
picture_seen_online = _events.signal("picture-seen-online")

#: The victim withdrew the case: what would still act on it stops (hashes leave the
#: exchange, queued notices are cancelled).
case_withdrawn = _events.signal("case-withdrawn")

#: The victim erased the case: each feature deletes or scrubs its personal data. Also
#: given `urls`, {reported URL id: the address as it was}, read before anyone scrubs it,
#: so that no listener depends on the order in which the others run.
case_erased = _events.signal("case-erased")

#: A caseworker closed a referral to the authorities: the evidence feature ends the legal
#: holds placed for it. Also given `referral_id` and `closed_by_id` (the caseworker, or None).
referral_closed = _events.signal("referral-closed")

#: The deadlines of a case's removal requests, or the removal of their addresses, may have
#: changed: the cases feature keeps `cases.waiting_deadline` (the queue's order) and
#: `cases.overdue_from` (overdue once past). Sent by the platforms feature
#: (platforms.waiting) with the case id as sender and `session`, `deadline` (the earliest
#: deadline of a request sent or acknowledged, or None) and `overdue_from` (the earliest of
#: those with an address not removed, or None).
waiting_deadline_changed = _events.signal("waiting-deadline-changed")

#: After the erasure is committed: what lives outside the database (outbox files) goes.
#: Sent with the case id as sender and `session`, `config` as keyword arguments.
case_erasure_committed = _events.signal("case-erasure-committed")

#: A feature is about to send a request to `url` (the URL as sender; `allow_loopback`,
#: `timeout`): the network guard (monitoring.outbound) answers with the checked (address,
#: port) to connect to, or raises a ValueError. Not a domain event: a question to the guard.
outbound_address = _events.signal("outbound-address")


#: The receivers each event had once the process connected its listeners (see
#: `listeners_connected`): an event that lost one since is refused, not half-kept.
_connected: dict[str, set[object]] = {}


def listeners_connected() -> None:
    """Called by disrupt.listeners.connect once every feature's listeners are connected."""
    for name, signal in _events.items():
        _connected[name] = set(signal.receivers)


def require_listeners(signal: object) -> None:
    """A promise kept by listeners must not be silently skipped in a process that forgot
    to connect them, or that lost one of them."""
    name = getattr(signal, "name", str(signal))
    receivers = set(getattr(signal, "receivers", None) or ())
    if not receivers or _connected.get(name, set()) - receivers:
        raise RuntimeError(f"no listener is connected to {name}, or one is missing; "
                           "call disrupt.listeners.connect() when the process starts")
