"""The labelled corpus: page shapes modelled on real platforms, each with the verdict a
check must give (DESIGN.md §6 and docs/verdicts.md). ``ENTRIES`` is static (test ids);
``install`` puts every entry's pages on the hosts once their addresses are known."""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.monitoring.corpus.pictures import Pictures
from tests.monitoring.corpus.servers import Host, Reply, html, image, redirect

#: Host name -> loopback address. A host is one simulated platform or CDN.
HOSTS = {
    "forum": "127.0.0.10", "forumcdn": "127.0.0.11", "gallery": "127.0.0.12",
    "imagehost": "127.0.0.13", "tube": "127.0.0.14", "tubecdn": "127.0.0.15",
    "social": "127.0.0.16", "socialcdn": "127.0.0.17", "template": "127.0.0.18",
    "adversarial": "127.0.0.19", "slow": "127.0.0.20", "status": "127.0.0.21",
}
#: Fixed verdict expectations never involve these hosts' address: the DNS case.
UNRESOLVABLE = "http://photos.disrupt-corpus.invalid/p/1"

FORUM_MARKER = "This post has been removed by a moderator"
TUBE_MARKER = "This video has been removed for violating our terms of service"
SOCIAL_MARKER = "This post is unavailable"
JUNK_BYTES = 1 << 20  # the adversarial pages' megabyte of hostile markup
HUGE_GALLERY = 400    # thumbnails before the victim's picture (past any sane candidate bound)


@dataclass(frozen=True)
class Entry:
    name: str
    models: str          # the real platform shape it stands for, one line
    host: str            # key of HOSTS ("" for the unresolvable URL)
    path: str
    verdict: str
    rule: str | None = None  # asserted only where the contract fixes it
    seen_matching: bool = False
    rules: dict[str, Any] = field(default_factory=dict)  # "{host}" is replaced by its base
    adversarial: bool = False  # CPU and memory printed by bench/verdicts.py
    shows_picture: bool = False  # the page still shows the victim's picture


ONLINE, REMOVED, INDET = "online", "removed", "indeterminate"
MATCH, NOT_CONFIRMED = "media_match", "picture_not_confirmed"
FORUM_RULES = {"soft_404_markers": [FORUM_MARKER]}
TUBE_RULES = {"soft_404_markers": [TUBE_MARKER]}
SOCIAL_RULES = {"soft_404_markers": [SOCIAL_MARKER]}


def _e(name: str, models: str, host: str, path: str, verdict: str, rule: str | None = None,
       **kw: Any) -> Entry:
    if rule == MATCH:
        kw.setdefault("shows_picture", True)
    return Entry(name, models, host, path, verdict, rule, **kw)


ENTRIES: tuple[Entry, ...] = (
    # -- forums (phpBB / vBulletin / Discourse threads) -----------------------------------
    _e("forum_logo_and_ad_before_photo", "phpBB thread: site logo and a banner ad come "
       "before the attachment", "forum", "/t/1001-summer-meetup", ONLINE, MATCH,
       rules=FORUM_RULES),
    _e("forum_photo_on_cdn", "Discourse thread whose uploads live on a CDN host",
       "forum", "/t/1002-photos", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_marker_elsewhere_photo_still_there", "vBulletin thread where another post "
       "was moderated but the victim's picture is still in a later post", "forum",
       "/t/1003-pics", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_post_removed_thread_kept", "thread kept after the moderator removed the post "
       "that carried the picture (seen matching before)", "forum", "/t/1004-leak",
       REMOVED, seen_matching=True, rules=FORUM_RULES),
    _e("forum_different_photo_than_hashed", "thread shows a crop/screenshot, not the "
       "original the victim hashed", "forum", "/t/1005-new", ONLINE, NOT_CONFIRMED,
       rules=FORUM_RULES),
    _e("forum_thread_deleted_404", "deleted thread answering 404", "forum",
       "/t/1006-gone", REMOVED, "status_removed", rules=FORUM_RULES),
    _e("forum_reencoded_quality_40", "forum that recompresses uploads (JPEG quality 40)",
       "forum", "/t/1007-recompressed", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_resized_thumbnail", "forum that shows a half-size thumbnail of the upload",
       "forum", "/t/1008-thumb", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_pictures_gone_seen_before", "thread edited: the picture seen before is gone, "
       "only other people's photos remain", "forum", "/t/1009-edited", REMOVED,
       seen_matching=True, rules=FORUM_RULES),
    _e("forum_pictures_gone_never_seen", "the same edited thread, never seen showing the "
       "victim's picture", "forum", "/t/1010-edited", ONLINE, NOT_CONFIRMED,
       rules=FORUM_RULES),
    _e("forum_gzip_encoded_page", "thread served with Content-Encoding: gzip", "forum",
       "/t/1012-gzip", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_redirect_to_canonical", "short thread link 301-redirecting to its canonical "
       "slug", "forum", "/t/1013", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_base_href_on_cdn", "thread whose <base href> points attachments at a CDN",
       "forum", "/t/1014-base", ONLINE, MATCH, rules=FORUM_RULES),
    _e("forum_relative_attachment_path", "paginated thread using ../ relative attachment "
       "paths", "forum", "/t/1011/page-2", ONLINE, MATCH, rules=FORUM_RULES),
    # -- galleries with lazy loading ------------------------------------------------------
    _e("gallery_lazy_data_src", "lazysizes gallery: src is a spacer, data-src the photo",
       "gallery", "/album/12", ONLINE, MATCH),
    _e("gallery_lazy_data_srcset", "lazysizes gallery with data-srcset", "gallery",
       "/album/13", ONLINE, MATCH),
    _e("gallery_lazy_data_lazy_src", "WordPress lazy-load plugin (data-lazy-src)",
       "gallery", "/album/14", ONLINE, MATCH),
    _e("gallery_lazy_data_original", "jQuery lazyload gallery (data-original)", "gallery",
       "/album/15", ONLINE, MATCH),
    _e("gallery_picture_source_webp", "responsive <picture> whose WebP <source> is the "
       "photo and <img> a spacer", "gallery", "/album/16", ONLINE, MATCH),
    _e("gallery_srcset_widths", "img srcset with 320w/640w candidates", "gallery",
       "/album/17", ONLINE, MATCH),
    _e("gallery_srcset_commas_in_urls", "image-CDN srcset whose URLs hold commas "
       "(w_320,c_fill transformations)", "gallery", "/album/20", ONLINE, MATCH),
    _e("gallery_protocol_relative_cdn", "picture on a CDN named by a protocol-relative "
       "//host URL", "gallery", "/album/21", ONLINE, MATCH),
    _e("gallery_noscript_fallback", "script-only lazy loader: the photo is only in the "
       "<noscript> fallback", "gallery", "/album/22", ONLINE, MATCH),
    _e("gallery_photo_among_thumbnails", "album of 20 thumbnails, the victim's 8th",
       "gallery", "/album/18", ONLINE, MATCH),
    _e("gallery_huge_past_candidate_bound", f"album of {HUGE_GALLERY} thumbnails, the "
       "victim's last: the bound is reached first", "gallery", "/album/19", INDET,
       adversarial=True, shows_picture=True),
    # -- image hosts ----------------------------------------------------------------------
    _e("imagehost_direct_jpeg", "direct i.imgur-style image URL", "imagehost",
       "/i/Ab3xK.jpg", ONLINE, MATCH),
    _e("imagehost_direct_png_reencoded", "direct image URL re-encoded as PNG", "imagehost",
       "/i/Qz81p.png", ONLINE, MATCH),
    _e("imagehost_direct_octet_stream", "direct image URL served as "
       "application/octet-stream", "imagehost", "/i/Os4c1.jpg", ONLINE, MATCH),
    _e("imagehost_direct_redirects_to_viewer", "direct image link redirecting browsers "
       "to the HTML viewer page that shows it", "imagehost", "/i/Vw2d8.jpg", ONLINE, MATCH),
    _e("imagehost_viewer_placeholder_seen_before", "viewer page kept, now showing the "
       "host's 'image removed' picture (seen matching before)", "imagehost", "/v/Pl1",
       REMOVED, seen_matching=True),
    _e("imagehost_placeholder_redirect", "removed image redirecting to the host's "
       "'removed.png'", "imagehost", "/i/Rm0v3.jpg", REMOVED, "placeholder_url",
       rules={"placeholder_redirects": ["{imagehost}/removed.png"]}),
    _e("imagehost_placeholder_digest", "removed image served in place as the host's "
       "placeholder picture", "imagehost", "/i/Dg7e2.jpg", REMOVED, "placeholder_digest",
       rules={"placeholder_digests": ["{placeholder_digest}"]}),
    _e("imagehost_html_no_longer_available", "direct image URL now answering 200 with an "
       "HTML 'no longer available' page", "imagehost", "/i/Nl9a4.jpg", REMOVED,
       seen_matching=True),
    _e("imagehost_other_image_seen_before", "direct image URL now serving another image",
       "imagehost", "/i/Ot5b6.jpg", REMOVED, seen_matching=True),
    _e("imagehost_other_image_never_seen", "direct image URL serving a photo that is not "
       "the one hashed (never seen matching)", "imagehost", "/i/Ot5b7.jpg", ONLINE),
    _e("imagehost_direct_410", "image deleted by its uploader: 410 Gone", "imagehost",
       "/i/Gn410.jpg", REMOVED, "status_removed"),
    _e("imagehost_viewer_og_image", "image viewer page drawn by script: only og:image "
       "names the picture", "imagehost", "/v/Og1", ONLINE, MATCH),
    _e("imagehost_viewer_link_image_src", "old viewer page with link rel=image_src only",
       "imagehost", "/v/Ln1", ONLINE, MATCH),
    # -- tube sites -----------------------------------------------------------------------
    _e("tube_video_poster_on_cdn", "video page whose poster frame (on a CDN) is the "
       "picture", "tube", "/watch/abc123", ONLINE, MATCH, rules=TUBE_RULES),
    _e("tube_og_image_on_cdn", "video page with the picture only as og:image on a CDN",
       "tube", "/watch/def456", ONLINE, MATCH, rules=TUBE_RULES),
    _e("tube_age_gate_redirect", "age-verification interstitial in front of the video",
       "tube", "/watch/ghi789", INDET, rules=TUBE_RULES),
    _e("tube_video_removed_page", "video page kept with a 'removed for violating our "
       "terms' notice and a generic poster", "tube", "/watch/jkl012", REMOVED,
       rules=TUBE_RULES),
    _e("tube_451_geo_blocked", "video withheld in this country (451)", "tube",
       "/watch/mno345", "restricted", "status_restricted", rules=TUBE_RULES),
    # -- social posts ---------------------------------------------------------------------
    _e("social_twitter_image_on_cdn", "post page naming the photo in twitter:image on a "
       "media CDN", "social", "/someone/status/111", ONLINE, MATCH, rules=SOCIAL_RULES),
    _e("social_uppercase_old_markup", "old upper-case, unquoted markup (<IMG SRC=...>, "
       "<META PROPERTY=...>)", "social", "/someone/status/110", ONLINE, MATCH,
       rules=SOCIAL_RULES),
    _e("social_login_wall", "post behind a login redirect", "social",
       "/someone/status/112", INDET, rules=SOCIAL_RULES),
    _e("social_post_deleted_marker", "deleted post answering 200 'This post is "
       "unavailable'", "social", "/someone/status/113", REMOVED, rules=SOCIAL_RULES),
    _e("social_captcha", "bot challenge page in front of the post", "social",
       "/someone/status/114", INDET, rules=SOCIAL_RULES),
    _e("social_rate_limited_429", "rate limited with Retry-After", "social",
       "/someone/status/115", INDET, rules=SOCIAL_RULES),
    _e("social_forbidden_403", "403 to unknown clients", "social", "/someone/status/116",
       INDET, rules=SOCIAL_RULES),
    _e("social_unavailable_503", "overloaded: 503", "social", "/someone/status/117", INDET,
       rules=SOCIAL_RULES),
    _e("social_unauthorised_401", "private account: 401", "social", "/someone/status/118",
       INDET, rules=SOCIAL_RULES),
    # -- a templated site that answers 200 to every path ------------------------------------
    _e("template_page_shows_photo", "200-for-everything site: a live page nearly "
       "identical to its not-found template, with the picture", "template",
       "/photos/8841", ONLINE, MATCH),
    _e("template_page_gone", "200-for-everything site: the removed page answers the "
       "not-found template", "template", "/photos/8842", REMOVED, "soft404_fingerprint"),
    _e("template_photo_on_cdn", "200-for-everything site with the picture on a CDN",
       "template", "/photos/8843", ONLINE, MATCH),
    _e("template_other_photo_never_seen", "200-for-everything site: a live page with "
       "other photos, never seen matching", "template", "/photos/8844", ONLINE,
       NOT_CONFIRMED),
    # -- adversarial pages ----------------------------------------------------------------
    _e("adversarial_unclosed_img_tags", "photo, then a megabyte of unclosed '<img ' tags",
       "adversarial", "/x/img", ONLINE, MATCH, adversarial=True),
    _e("adversarial_unclosed_script_tags", "photo, then a megabyte of unclosed '<script>'",
       "adversarial", "/x/script", ONLINE, MATCH, adversarial=True),
    _e("adversarial_unclosed_title_tags", "og:image, then a megabyte of unclosed "
       "'<title>'", "adversarial", "/x/title", ONLINE, MATCH, adversarial=True),
    _e("adversarial_bomb_png_on_page", "page whose only picture is a 12 KB PNG that "
       "decodes to 100 Mpx", "adversarial", "/x/bomb-page", INDET, adversarial=True),
    _e("adversarial_bomb_png_direct", "direct URL serving the decompression bomb",
       "adversarial", "/x/bomb.png", INDET, adversarial=True),
    _e("adversarial_bomb_then_photo", "decompression bomb, then the victim's photo",
       "adversarial", "/x/bomb-then-photo", ONLINE, MATCH, adversarial=True),
    _e("adversarial_gzip_bomb_after_photo", "photo, then 256 MiB of gzip-compressed "
       "markup (256 KiB on the wire)", "adversarial", "/x/gzip-bomb", ONLINE, MATCH,
       adversarial=True),
    _e("adversarial_gzip_bomb_no_photo", "256 MiB of gzip-compressed markup, no picture "
       "before the byte cap", "adversarial", "/x/gzip-bomb-empty", INDET, adversarial=True),
    _e("adversarial_picture_over_byte_cap_seen_before", "the victim's photo padded past "
       "the media byte cap, on a page seen matching before: not compared, so not removed",
       "adversarial", "/x/padded", INDET, seen_matching=True, adversarial=True,
       shows_picture=True),
    # -- slow hosts and network failures ---------------------------------------------------
    _e("slow_page_timeout", "host that answers after the check's timeout", "slow",
       "/post/1", INDET),
    _e("slow_picture_timeout", "fast page whose only picture answers too late", "slow",
       "/post/2", INDET, shows_picture=True),
    _e("network_connection_reset", "host resetting the connection", "status",
       "/p/reset", INDET),
    _e("network_dns_failure", "host name that does not resolve", "", UNRESOLVABLE, INDET),
    _e("guard_redirect_to_private_address", "redirect to a private address (refused by "
       "the network guard)", "status", "/p/private", "invalid", "guard"),
)


# -- the pages --------------------------------------------------------------------------

def _doc(title: str, body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"{head}</head><body>{body}</body></html>")


def _forum(title: str, posts: list[str]) -> Reply:
    items = "".join(
        f"<article class=post id=p{i}><img class=avatar src=/img/avatar.png width=48 "
        f"height=48><div class=content>{post}</div></article>" for i, post in enumerate(posts))
    return html(_doc(f"{title} - BoardTalk", (
        "<header><img src=/img/logo.png alt=BoardTalk width=120 height=40></header>"
        "<div class=banner><a href=/ads/1><img src=/img/ad.png width=728 height=90></a></div>"
        f"<h1>{title}</h1>{items}<footer>BoardTalk forums</footer>")))


def _template(content: str) -> str:
    return _doc("PhotoSpot", (
        "<nav><img src=/img/logo.png width=120 height=40> Home Explore Upload Sign in</nav>"
        f"<main>{content}</main><footer>PhotoSpot - share your moments. Terms Privacy "
        "Contact</footer>"))


NOT_THERE = ("<h2>Sorry, this page doesn't exist.</h2><p>The link may be broken or the page "
             "may have been removed.</p>")


def _template_fallback(path: str) -> Reply:
    return html(_template(NOT_THERE))


def install(hosts: dict[str, Host], p: Pictures) -> None:  # noqa: PLR0915 - a table
    """Put every entry's pages and pictures on the hosts (call once, after start)."""
    b = {name: host.base for name, host in hosts.items()}
    for host in hosts.values():
        host.pages.update({
            "/img/logo.png": image(p.logo, "image/png"),
            "/img/ad.png": image(p.ad, "image/png"),
            "/img/avatar.png": image(p.avatar, "image/png"),
            "/img/spacer.gif": image(p.spacer, "image/gif"),
        })
    hosts["template"].fallback = _template_fallback

    forum, fcdn = hosts["forum"].pages, hosts["forumcdn"].pages
    other_posts = ["<p>nice</p><img src=/attachments/o1.jpg>", "<p>me too</p>"]
    forum.update({
        "/attachments/o1.jpg": image(p.others[0]),
        "/attachments/o2.jpg": image(p.others[1]),
        "/attachments/1001/IMG_2231.jpg": image(p.victim),
        "/t/1001-summer-meetup": _forum("Summer meetup", [
            "<p>photos from saturday</p><img src=/attachments/1001/IMG_2231.jpg>",
            *other_posts]),
        "/t/1002-photos": _forum("Photos", [
            f"<p>here</p><img src={b['forumcdn']}/a/1002/photo.jpg>", *other_posts]),
        "/t/1003-pics": _forum("Pics", [
            "<p>first</p>", f"<p class=removed>{FORUM_MARKER}.</p>",
            "<p>found it</p><img src=/attachments/1003/p.jpg>"]),
        "/attachments/1003/p.jpg": image(p.victim),
        "/t/1004-leak": _forum("Leak", [
            f"<p class=removed>{FORUM_MARKER}.</p>", *other_posts]),
        "/t/1005-new": _forum("New", ["<img src=/attachments/1005/crop.jpg>", *other_posts]),
        "/attachments/1005/crop.jpg": image(p.different),
        "/t/1006-gone": NOT_FOUND_PAGE,
        "/t/1007-recompressed": _forum("Recompressed", [
            "<img src=/attachments/1007/p.jpg>", *other_posts]),
        "/attachments/1007/p.jpg": image(p.victim_q40),
        "/t/1008-thumb": _forum("Thumb", [
            "<a href=/attachments/1008/full><img src=/attachments/1008/thumb.jpg></a>"]),
        "/attachments/1008/thumb.jpg": image(p.victim_half),
        "/t/1009-edited": _forum("Edited", ["<p>[edited]</p>", *other_posts,
                                            "<img src=/attachments/o2.jpg>"]),
        "/t/1010-edited": _forum("Edited", ["<p>[edited]</p>", *other_posts,
                                            "<img src=/attachments/o2.jpg>"]),
        "/t/1012-gzip": Reply(200, gzip.compress(_forum("Gzip", [
            "<img src=/attachments/1003/p.jpg>"]).body), headers={"Content-Encoding": "gzip"}),
        "/t/1013": redirect("/t/1013-the-canonical-title", 301),
        "/t/1013-the-canonical-title": _forum("Canonical", [
            *other_posts, "<img src=/attachments/1003/p.jpg>"]),
        "/t/1014-base": Reply(200, _forum("Base", ["<img src=1014.jpg>"]).body.replace(
            b"<title>", f"<base href={b['forumcdn']}/a/><title>".encode())),
        "/t/1011/page-2": _forum("Page 2", ["<img src=../attachments/1011/p.jpg>"]),
        "/t/attachments/1011/p.jpg": image(p.victim),
    })
    fcdn["/a/1002/photo.jpg"] = fcdn["/a/1014.jpg"] = image(p.victim)

    spacer = "/img/spacer.gif"
    thumbs = [f"/thumbs/{i}.jpg" for i in range(HUGE_GALLERY)]
    gallery = hosts["gallery"].pages
    gallery.update({t: image(p.others[i % len(p.others)]) for i, t in enumerate(thumbs)})
    gallery.update({
        "/photos/v.jpg": image(p.victim), "/photos/v-half.jpg": image(p.victim_half),
        "/photos/v.webp": image(p.victim_webp, "image/webp"),
        "/image/upload/w_320,c_fill/v.jpg": image(p.victim_half),
        "/image/upload/w_640,c_fill/v.jpg": image(p.victim),
    })

    def album(title: str, figures: str) -> Reply:
        return html(_doc(title, f"<img src=/img/logo.png><h1>{title}</h1>"
                                f"<div class=grid>{figures}</div>"))

    def grid(srcs: list[str]) -> str:
        return "".join(f"<figure><img src={s} width=160 height=120></figure>" for s in srcs)

    gallery.update({
        "/album/12": album("Beach", f"<img class=lazyload src={spacer} data-src=/photos/v.jpg>"),
        "/album/13": album("Beach", f"<img class=lazyload src={spacer} "
                                    "data-srcset='/photos/v-half.jpg 320w, /photos/v.jpg 640w'>"),
        "/album/14": album("Beach", f"<img src={spacer} data-lazy-src=/photos/v.jpg>"),
        "/album/15": album("Beach", f"<img class=lazy src={spacer} data-original=/photos/v.jpg>"),
        "/album/16": album("Beach", "<picture><source type=image/webp srcset=/photos/v.webp>"
                                    f"<img src={spacer}></picture>"),
        "/album/17": album("Beach", f"<img src={spacer} srcset='/photos/v-half.jpg 320w, "
                                    "/photos/v.jpg 640w' sizes=100vw>"),
        "/album/20": album("Beach", f"<img src={spacer} srcset='/image/upload/w_320,c_fill/"
                                    "v.jpg 320w, /image/upload/w_640,c_fill/v.jpg 640w'>"),
        "/album/21": album("Beach", "<img src=//{}/media/F111.jpg>".format(
            b["socialcdn"].removeprefix("http://"))),
        "/album/22": album("Beach", f"<img class=js-lazy src={spacer}><noscript><img "
                                    "src=/photos/v.jpg></noscript>"),
        "/album/18": album("Party", grid([*thumbs[:7], "/photos/v-half.jpg", *thumbs[7:19]])),
        "/album/19": album("Everything", grid([*thumbs, "/photos/v.jpg"])),
    })

    ih = hosts["imagehost"].pages
    ih.update({
        "/i/Ab3xK.jpg": image(p.victim),
        "/i/Os4c1.jpg": image(p.victim, "application/octet-stream"),
        "/i/Vw2d8.jpg": redirect("/v/Vw2d8"),
        "/v/Vw2d8": html(_doc("ImgBox", "<img src=/img/logo.png><img src=/i/vw2d8-full.jpg>")),
        "/i/vw2d8-full.jpg": image(p.victim),
        "/v/Pl1": html(_doc("ImgBox", "<img src=/img/logo.png><img src=/removed.png>")),
        "/i/Qz81p.png": image(p.victim_png, "image/png"),
        "/i/Rm0v3.jpg": redirect("/removed.png"),
        "/removed.png": image(p.removed_placeholder, "image/png"),
        "/i/Dg7e2.jpg": image(p.removed_placeholder, "image/png"),
        "/i/Nl9a4.jpg": html(_doc("ImgBox", "<img src=/img/logo.png><h2>This image is no "
                                            "longer available.</h2>")),
        "/i/Ot5b6.jpg": image(p.others[2]),
        "/i/Ot5b7.jpg": image(p.different),
        "/i/Gn410.jpg": Reply(410, b"gone"),
        "/i/og1.jpg": image(p.victim), "/i/ln1.jpg": image(p.victim),
        "/v/Og1": html(_doc("ImgBox", "<div id=viewer></div><script>draw('og1')</script>",
                            f"<meta property=og:image content={b['imagehost']}/i/og1.jpg>")),
        "/v/Ln1": html(_doc("ImgBox", "<div id=viewer></div>",
                            "<link rel=image_src href=/i/ln1.jpg>")),
    })

    tube, tcdn = hosts["tube"].pages, hosts["tubecdn"].pages
    tcdn.update({"/posters/abc123.jpg": image(p.victim), "/og/def456.jpg": image(p.victim_q40),
                 "/posters/removed.jpg": image(p.removed_placeholder)})

    def watch(poster: str, head: str = "", notice: str = "") -> Reply:
        return html(_doc("TubeSite", f"<img src=/img/logo.png>{notice}<video controls "
                                     f"poster={poster}><source src=/v.mp4 type=video/mp4>"
                                     "</video><div class=related>" + grid(
                                         ["/img/ad.png"]) + "</div>", head))

    tube.update({
        "/watch/abc123": watch(f"{b['tubecdn']}/posters/abc123.jpg"),
        "/watch/def456": watch("", f"<meta property=og:image "
                                   f"content={b['tubecdn']}/og/def456.jpg>"),
        "/watch/ghi789": redirect("/age-verification?next=/watch/ghi789"),
        "/age-verification": html(_doc("Are you 18?", "<form><button>I am 18 or older"
                                                      "</button></form>")),
        "/watch/jkl012": watch(f"{b['tubecdn']}/posters/removed.jpg",
                               notice=f"<h2>{TUBE_MARKER}.</h2>"),
        "/watch/mno345": Reply(451, b"<h1>Not available in your country</h1>"),
    })

    social, scdn = hosts["social"].pages, hosts["socialcdn"].pages
    scdn["/media/F111.jpg"] = image(p.victim_half)

    def post(text: str, head: str = "") -> Reply:
        return html(_doc("Chirp", f"<img src=/img/avatar.png><p>{text}</p>", head))

    social.update({
        "/someone/status/111": post("look", f"<meta name=twitter:card content=summary_large_"
                                            f"image><meta name=twitter:image content="
                                            f"{b['socialcdn']}/media/F111.jpg>"),
        "/someone/status/110": html(
            f"<HTML><HEAD><TITLE>Chirp</TITLE><META PROPERTY=og:image CONTENT={b['socialcdn']}"
            "/media/F111.jpg></HEAD><BODY><IMG SRC=/img/avatar.png><P>old post</BODY></HTML>"),
        "/someone/status/112": redirect("/login?redirect_after_login=%2Fsomeone"),
        "/login": html(_doc("Log in", "<form method=post><input name=user>"
                                      "<input type=password name=pw></form>")),
        "/someone/status/113": post(f"{SOCIAL_MARKER}."),
        "/someone/status/114": html(_doc("Just a moment...", "<div class=g-recaptcha "
                                                             "data-sitekey=x></div>")),
        "/someone/status/115": Reply(429, b"slow down", headers={"Retry-After": "600"}),
        "/someone/status/116": Reply(403, b"forbidden"),
        "/someone/status/117": Reply(503, b"over capacity"),
        "/someone/status/118": Reply(401, b"private"),
    })

    tpl = hosts["template"].pages
    tpl.update({
        "/media/8841.jpg": image(p.victim),
        "/photos/8841": html(_template(NOT_THERE + "<img src=/media/8841.jpg>")),
        "/photos/8843": html(_template(f"<h2>Holiday</h2><img src="
                                       f"{b['forumcdn']}/spot/8843.jpg>")),
        "/media/o1.jpg": image(p.others[3]), "/media/o2.jpg": image(p.others[4]),
        "/photos/8844": html(_template("<h2>Holiday</h2><img src=/media/o1.jpg>"
                                       "<img src=/media/o2.jpg>")),
    })
    fcdn["/spot/8843.jpg"] = image(p.victim)

    adv = hosts["adversarial"].pages
    victim_img = "<img src=/x/photo.jpg>"
    adv.update({
        "/x/photo.jpg": image(p.victim),
        "/x/bomb.png": image(p.bomb, "image/png"),
        "/x/img": html(_doc("x", victim_img) .replace("</body></html>", "")
                       + "<img " * (JUNK_BYTES // 5)),
        "/x/script": html(_doc("x", victim_img).replace("</body></html>", "")
                          + "<script>" * (JUNK_BYTES // 8)),
        "/x/title": html("<!DOCTYPE html><html><head><meta property=og:image "
                         f"content={b['adversarial']}/x/photo.jpg>"
                         + "<title>" * (JUNK_BYTES // 7)),
        "/x/gzip-bomb": Reply(200, gzip_bomb(_doc("x", victim_img)), headers=GZIP),
        "/x/gzip-bomb-empty": Reply(200, gzip_bomb(_doc("x", "<p>hello</p>")), headers=GZIP),
        "/x/padded": html(_doc("x", "<img src=/x/padded.jpg>")),
        "/x/padded.jpg": image(p.victim + b"\0" * (3 << 20)),  # past the 2 MB media cap
        "/x/bomb-page": html(_doc("x", "<img src=/x/bomb.png>")),
        "/x/bomb-then-photo": html(_doc("x", "<img src=/x/bomb.png>" + victim_img)),
    })

    hosts["slow"].pages.update({
        "/post/1": Reply(200, _doc("slow", victim_img).encode(), delay=SLOW_SECONDS),
        "/post/2": html(_doc("slow", "<img src=/x/photo.jpg>")),
        "/x/photo.jpg": image(p.victim, delay=SLOW_SECONDS),
    })
    hosts["status"].pages.update({
        "/p/reset": Reply(reset=True),
        "/p/private": redirect("http://10.0.0.7/admin"),
    })


GZIP = {"Content-Encoding": "gzip"}


def gzip_bomb(head: str, size: int = 256 << 20) -> bytes:
    """``head``, then ``size`` bytes of blanks, gzip-compressed (about 1/1000 the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    blank = b" " * (1 << 20)
    parts = [packer.compress(head.removesuffix("</body></html>").encode())]
    parts += [packer.compress(blank) for _ in range(size // len(blank))]
    return b"".join(parts) + packer.flush()


NOT_FOUND_PAGE = Reply(404, b"<html><body><h1>This thread does not exist</h1></body></html>")
SLOW_SECONDS = 2.5  # the corpus checks with a 1 s timeout
