"""Normalising the URLs victims and caseworkers paste.

The same page must give the same string whatever way it was pasted, so that a
case never holds one URL twice and the checker fetches what the browser showed.
The rules follow the WHATWG URL Standard (what browsers do) for the host and
RFC 3986 §6 for the rest:

* surrounding whitespace stripped; tabs and newlines inside removed (browsers do);
  other control characters refused;
* ``https://`` added when the scheme is missing and the text starts with a host
  name ("example.com/x", "example.com:8080/x", "//example.com/x");
* only http and https; ``\\`` counts as ``/`` before the query and extra slashes
  after the scheme are ignored, as in a browser;
* no user name or password before the host (``https://paypal.com@evil.example/``
  disguises where a link leads);
* host lower-cased, percent-decoded, mapped with UTS #46 and converted to
  punycode; invalid labels refused; the trailing dot dropped; numeric hosts in
  every ``inet_aton`` form ("0x7f.1", "2130706433") written as dotted quads;
  IPv6 literals in compressed form, zone indexes refused;
* default ports (80 for http, 443 for https) dropped;
* percent-encoding: unreserved characters decoded, hex digits upper-cased,
  characters that must be encoded (spaces, non-ASCII as UTF-8, ``"<>`{}|^``…)
  encoded, a stray ``%`` encoded as ``%25``; nothing is encoded twice;
* dot segments resolved; empty path becomes ``/``;
* tracking parameters removed (:data:`TRACKING_PARAMS`, :data:`TRACKING_PREFIXES`,
  and for a few platforms :data:`HOST_TRACKING_PARAMS`); other parameters kept
  in order; empty parameters and an empty query dropped;
* fragment dropped; at most :data:`MAX_URL_LENGTH` characters.
"""
from __future__ import annotations

import re
import string
import urllib.parse

import idna

from disrupt.urls.ip import parse_ip_literal

MAX_URL_LENGTH = 2048

#: Click identifiers and campaign tags; matched case-insensitively on the
#: decoded parameter name, on every host. Each one only says where a visitor
#: came from, never which content is shown.
TRACKING_PARAMS = frozenset(
    {
        # ad-click identifiers
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "ysclid", "twclid", "ttclid", "li_fat_id", "epik", "sccid", "rdt_cid",
        "irclickid", "srsltid", "wickedid", "_gl",
        # e-mail campaign tools (Mailchimp, HubSpot, Marketo, Vero, Openstat)
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatrk",
        "mkt_tok", "vero_id", "vero_conv", "_openstat",
        # social share markers with unambiguous names
        "igshid", "igsh", "ref_src", "ref_url",
        # Matomo / Piwik campaign parameters
        "pk_campaign", "pk_kwd", "pk_keyword", "pk_source", "pk_medium", "pk_content",
        "mtm_campaign", "mtm_kwd", "mtm_source", "mtm_medium", "mtm_content", "mtm_cid",
        "piwik_campaign", "piwik_kwd",
    }
)

#: Parameter-name prefixes removed everywhere (Google Analytics campaign tags).
TRACKING_PREFIXES = ("utm_",)

#: Short or generic names that are share trackers only on these platforms
#: (the host or any subdomain of it); elsewhere "si" or "t" may select content.
HOST_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "youtube.com": frozenset({"si", "feature", "pp"}),
    "youtu.be": frozenset({"si", "feature"}),
    "spotify.com": frozenset({"si", "context"}),
    "twitter.com": frozenset({"s", "t"}),
    "x.com": frozenset({"s", "t"}),
    "instagram.com": frozenset({"utm_source", "img_index"}),
    "tiktok.com": frozenset({"_r", "_t", "is_from_webapp", "sender_device", "is_copy_url",
                             "web_id", "sender_web_id", "share_app_id", "share_link_id"}),
    "reddit.com": frozenset({"share_id", "rdt"}),
    "facebook.com": frozenset({"mibextid", "rdid", "share_url"}),
}

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset(string.hexdigits)

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_HOSTLIKE_RE = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s/\\?#:@\[\]]+)(?::\d*)?(?:[/\\?#]|$)"
)
_ASCII_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidURL(ValueError):
    """A pasted address that cannot be accepted; ``str()`` is meant for the victim."""


def _looks_like_host(text: str) -> bool:
    m = _HOSTLIKE_RE.match(text)
    if m is None:
        return False
    host = m.group("host")
    return host.startswith("[") or "." in host or host.lower() == "localhost"


def _percent_normalise(part: str, safe: frozenset[str]) -> str:
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        if c == "%":
            if i + 2 < n and part[i + 1] in _HEX and part[i + 2] in _HEX:
                hex_pair = part[i + 1:i + 3].upper()
                decoded = chr(int(hex_pair, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + hex_pair)
                i += 3
                continue
            out.append("%25")
        elif c in safe:
            out.append(c)
        else:
            out.extend(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for idx, seg in enumerate(segments):
        last = idx == len(segments) - 1
        if seg == ".":
            if last:
                output.append("")
        elif seg == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(seg)
    return "/" + "/".join(output)


def _unquote(text: str) -> str | None:
    """Percent-decode as UTF-8; None when the decoded bytes are not UTF-8."""
    try:
        return urllib.parse.unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _to_alabel(label: str, error: InvalidURL) -> str:
    """Punycode for a UTS #46-mapped label: IDNA 2008 when the label passes it,
    otherwise the plain punycode browsers produce for UTS #46-valid labels (☃.net)."""
    try:
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        pass
    if label.startswith("-") or label.endswith("-") or label[2:4] == "--":
        raise error
    try:
        if idna.uts46_remap(label, std3_rules=False, transitional=False) != label:
            raise error
        alabel = "xn--" + label.encode("punycode").decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise error from None
    if len(alabel) > 63:
        raise error
    return alabel


def _check_alabel(label: str, error: InvalidURL) -> None:
    """An "xn--" label must decode to a valid label that encodes back to itself."""
    try:
        ulabel = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        raise error from None
    if ulabel.isascii() or _to_alabel(ulabel, error) != label:
        raise error


def _normalise_host(host: str) -> str:
    bad_host = InvalidURL(
        "The site name in this address is not valid. Please copy the address again "
        "from your browser's address bar."
    )
    if not host:
        raise InvalidURL("This address has no site name after https://.")
    if host.startswith("[") or ":" in host:
        try:
            ip = parse_ip_literal(host)
        except ValueError:
            raise bad_host from None
        return f"[{ip.compressed}]"
    text = _unquote(host)
    if text is None:
        raise bad_host
    if any(c.isspace() or c in "%/\\?#@[]<>^|" or ord(c) < 0x20 for c in text):
        raise bad_host
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        raise bad_host from None
    if mapped.endswith(".") and not mapped.endswith(".."):
        mapped = mapped[:-1]
    try:
        ip = parse_ip_literal(mapped)
    except ValueError:
        raise bad_host from None
    if ip is not None:
        return str(ip)
    labels = []
    for label in mapped.split("."):
        if not label:
            raise bad_host
        if label.isascii():
            label = label.lower()
            if label.startswith("xn--"):
                _check_alabel(label, bad_host)
            elif not _ASCII_LABEL_RE.match(label):
                raise bad_host
        else:
            label = _to_alabel(label, bad_host)
        labels.append(label)
    result = ".".join(labels)
    if len(result) > 253:
        raise bad_host
    return result


def _is_tracking(name: str, host: str) -> bool:
    key = (_unquote(name) or name).lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    bare = host.strip("[]")
    for domain, names in HOST_TRACKING_PARAMS.items():
        if (bare == domain or bare.endswith("." + domain)) and key in names:
            return True
    return False


def _normalise_query(query: str, host: str) -> str:
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        name = piece.split("=", 1)[0]
        if _is_tracking(name, host):
            continue
        kept.append(_percent_normalise(piece, _QUERY_SAFE - {"&"}))
    return "&".join(kept)


def _cleaned(raw: str) -> str:
    """The pasted text, trimmed, without line breaks; refused when empty, huge or invisible."""
    if not isinstance(raw, str):
        raise InvalidURL("Please enter a web address as text.")
    text = raw.strip()
    if not text:
        raise InvalidURL("Please enter a web address, for example https://example.com/page.")
    if len(text) > 4 * MAX_URL_LENGTH:
        raise InvalidURL(
            f"This address is too long (more than {MAX_URL_LENGTH} characters). "
            "Please check that you copied only one address."
        )
    text = re.sub(r"[\t\r\n]", "", text)
    if _CONTROL_RE.search(text):
        raise InvalidURL("This address contains invisible control characters. "
                         "Please copy it again from your browser's address bar.")
    return text


def _scheme_and_rest(text: str) -> tuple[str, str]:
    """("http" or "https", what follows "scheme:"); a bare site name gets https://."""
    m = _SCHEME_RE.match(text)
    if text.startswith(("//", "\\\\")):
        text = "https:" + text
    elif m is None or _looks_like_host(text):
        if re.match(r"^[^/\s@:]+@[^/\s@]+\.[^/\s@]+$", text):
            raise InvalidURL(
                "This looks like an e-mail address, not a web address. Please enter the "
                "address of the page, starting with https://."
            )
        if not _looks_like_host(text):
            raise InvalidURL(
                "This does not look like a web address: it should start with https:// "
                "followed by a site name, for example https://example.com/page."
            )
        text = "https://" + text
    m = _SCHEME_RE.match(text)
    assert m is not None
    scheme = m.group(1).lower()
    if "." in scheme:
        raise InvalidURL(
            "This address is not valid: the part after the colon should be a port number "
            "(digits only) or the address should start with https://."
        )
    if scheme not in ("http", "https"):
        raise InvalidURL(
            f"Only web addresses starting with https:// or http:// can be checked "
            f"(this one starts with {scheme}:)."
        )
    return scheme, text[m.end():]


def _host_and_port(authority: str, scheme: str) -> tuple[str, int | None]:
    """The normalised host, and the port unless it is the scheme's default."""
    if "@" in authority:
        raise InvalidURL(
            "This address contains a user name or password before the site name "
            "(the part before @). Addresses like this are used to disguise where a "
            "link really goes, so they are not accepted. Please send the address "
            "without that part."
        )
    host, port_text = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise InvalidURL("The site name in this address is not valid.")
        host, after = authority[:end + 1], authority[end + 1:]
        if after and not after.startswith(":"):
            raise InvalidURL("The site name in this address is not valid.")
        port_text = after[1:]
    elif ":" in authority:
        host, _, port_text = authority.rpartition(":")
    host = _normalise_host(host)

    port: int | None = None
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
            raise InvalidURL(
                "The port number in this address (after the colon) is not valid."
            )
        port = int(port_text)
    if port == {"http": 80, "https": 443}[scheme]:
        port = None
    return host, port


def normalize_url(raw: str) -> str:
    """The canonical form of a pasted address; raises :class:`InvalidURL`."""
    scheme, rest = _scheme_and_rest(_cleaned(raw))
    rest, _, _fragment = rest.partition("#")
    before_query, question, query = rest.partition("?")
    before_query = before_query.replace("\\", "/").lstrip("/")
    authority, slash, path = before_query.partition("/")
    path = slash + path
    host, port = _host_and_port(authority, scheme)

    path = _remove_dot_segments(_percent_normalise(path or "/", _PATH_SAFE))
    query = _normalise_query(query, host) if question else ""

    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    if query:
        url += "?" + query
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(
            f"This address is too long (more than {MAX_URL_LENGTH} characters). "
            "Please check that you copied only one address."
        )
    return url


def host_of(url: str) -> str:
    """The normalised host of ``url`` (IPv6 literals without brackets)."""
    normal = normalize_url(url)
    authority = normal.split("://", 1)[1].split("/", 1)[0]
    if authority.startswith("["):
        return authority[1:authority.index("]")]
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


_WRAPPERS = (("<", ">"), ('"', '"'), ("'", "'"), ("(", ")"), ("[", "]"))


def _unwrap(token: str) -> str:
    """Strip what commonly surrounds a URL in pasted prose: <…>, quotes, trailing , or ;."""
    token = token.rstrip(",;")
    for left, right in _WRAPPERS:
        if len(token) > 2 and token.startswith(left) and token.endswith(right):
            return token[1:-1]
    return token


def normalize_many(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Normalise a pasted block of addresses (one per line or separated by spaces).

    Returns the normalised addresses, unique and in the order pasted, and
    ``(as pasted, message)`` for what was refused: one entry per line for the words of that
    line that are not addresses (a sentence is one refusal, not one per word), and one for
    each repeat of an address given earlier in the same paste.
    """
    urls: list[str] = []
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for line in text.splitlines():
        refused: list[str] = []
        first_reason = ""
        for token in line.split():
            candidate = _unwrap(token)
            if not candidate:
                continue
            try:
                url = normalize_url(candidate)
            except InvalidURL as exc:
                refused.append(token)
                first_reason = first_reason or str(exc)
                continue
            if url in seen:
                errors.append(
                    (token, f"This address is already in your list (number {seen[url]}): "
                            "it was only added once.")
                )
                continue
            urls.append(url)
            seen[url] = len(urls)
        if refused:
            errors.append((" ".join(refused), first_reason))
    return urls, errors
