"""mkdocs hook: the site builds and reads offline. A page that would load anything from the network
(a script, a stylesheet, a font, an image or a frame with an http(s) address) stops the build; a link
a reader may follow is fine. mkdocs.yml names this file as a hook; theme.font: false keeps Material's
web fonts out."""

from __future__ import annotations

import re

FETCHING_ELEMENT = re.compile(
    r"<(script|link|img|iframe|source|video|audio)\b[^>]*\b(src|href|srcset)\s*=\s*[\"']?\s*(https?:)?//",
    re.IGNORECASE,
)
LINK_TO_FOLLOW = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?(canonical|alternate)\b", re.IGNORECASE)


def fetched_elements(html: str) -> list[str]:
    """The elements of ``html`` that would make a browser fetch from the network as the page loads."""
    found = []
    for match in FETCHING_ELEMENT.finditer(html):
        element = html[match.start() : html.find(">", match.start()) + 1]
        if not LINK_TO_FOLLOW.match(element):
            found.append(element)
    return found


def on_post_page(output: str, page, config) -> str:
    from mkdocs.exceptions import PluginError

    fetched = fetched_elements(output)
    if fetched:
        raise PluginError(f"{page.file.src_uri} would load from the network: {fetched[0][:200]}")
    return output
