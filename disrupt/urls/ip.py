"""IP literals in a host, read the way the OS resolver and browsers read them."""
from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_IPV4_PART = re.compile(r"^(?:0[xX](?P<hex>[0-9a-fA-F]*)|(?P<oct>0[0-7]*)|(?P<dec>[1-9][0-9]*))$")


def parse_ip_literal(host: str) -> IPAddress | None:
    """Read ``host`` the way the OS resolver and browsers read IP literals.

    Returns the address for an IP literal ("[::1]", "::1", "127.0.0.1", and the
    ``inet_aton`` forms "2130706433", "0177.0.0.1", "0x7f.1", "127.1"), None for
    a host name. Raises ValueError for a host that *looks* numeric – its last
    label is a number, as in the WHATWG URL Standard – but is no valid address:
    such a host must not be sent to DNS either.
    """
    text = host.strip()
    if text.startswith("[") or ":" in text:
        if text.startswith("[") != text.endswith("]"):
            raise ValueError(f"unbalanced brackets in {host!r}")
        inner = text[1:-1] if text.startswith("[") else text
        if "%" in inner:
            raise ValueError(f"zone index in {host!r}")
        return ipaddress.IPv6Address(inner)  # raises ValueError (AddressValueError)
    labels = text.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # trailing dot
    if not labels or not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError(f"too many parts in numeric host {host!r}")
    numbers = []
    for label in labels:
        m = _IPV4_PART.match(label)
        if m is None:
            raise ValueError(f"invalid number {label!r} in numeric host {host!r}")
        if m.group("hex") is not None:
            numbers.append(int(m.group("hex") or "0", 16))
        elif m.group("oct") is not None:
            numbers.append(int(m.group("oct"), 8))
        else:
            numbers.append(int(m.group("dec")))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"number out of range in numeric host {host!r}")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)
