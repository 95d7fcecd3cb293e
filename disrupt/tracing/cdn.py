"""A CDN or reverse proxy in front of a site, from its response headers and from the name of
the network its address belongs to. Then the CDN is the one to ask for the origin."""
from __future__ import annotations

from collections.abc import Mapping

#: (CDN, header name, substring of the value or "" for "present")
HEADER_SIGNS: tuple[tuple[str, str, str], ...] = (
    ("Cloudflare", "cf-ray", ""), ("Cloudflare", "server", "cloudflare"),
    ("Fastly", "x-served-by", "cache-"), ("Fastly", "x-fastly-request-id", ""),
    ("Amazon CloudFront", "x-amz-cf-id", ""), ("Amazon CloudFront", "via", "cloudfront"),
    ("Akamai", "server", "akamaighost"), ("Akamai", "x-akamai-transformed", ""),
    ("BunnyCDN", "server", "bunnycdn"), ("Bunny", "cdn-pullzone", ""),
    ("DDoS-Guard", "server", "ddos-guard"), ("Sucuri", "x-sucuri-id", ""),
    ("Google Cloud CDN", "via", "google"), ("Azure Front Door", "x-azure-ref", ""),
    ("StackPath", "x-hw", ""), ("CDN77", "server", "cdn77"),
)
#: Words in a network holder's name that mean the address belongs to a CDN.
HOLDER_SIGNS: tuple[tuple[str, str], ...] = (
    ("cloudflare", "Cloudflare"), ("fastly", "Fastly"), ("akamai", "Akamai"),
    ("cloudfront", "Amazon CloudFront"), ("bunny", "BunnyCDN"), ("ddos-guard", "DDoS-Guard"),
    ("sucuri", "Sucuri"), ("stackpath", "StackPath"), ("cdn77", "CDN77"),
    ("datacamp", "CDN77"),
)


def cdn_from_headers(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(CDN, the header that says so) or None."""
    lowered = {k.lower(): v.lower() for k, v in headers.items()}
    for cdn, name, needle in HEADER_SIGNS:
        if name in lowered and needle in lowered[name]:
            return cdn, f"{name}: {lowered[name][:80]}"
    return None


def cdn_from_holder(*names: str | None) -> str | None:
    text = " ".join(n.lower() for n in names if n)
    return next((cdn for word, cdn in HOLDER_SIGNS if word in text), None)
