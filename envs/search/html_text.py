"""HTML to plain text with the standard library's `html.parser`: block tags become line breaks, scripts vanish."""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
})
HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_SPACES = re.compile(r"[ \t\f\v\r]+")
_KEPT_SPACE = "\ue000"  # a private-use character standing in for a space inside <pre>


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.heading_parts: list[str] = []
        self.hidden_depth = 0
        self.pre_depth = 0
        self.in_title = False
        self.in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden_depth += 1
        if tag == "title":
            self.in_title = True
        if tag == "h1":
            self.in_h1 = True
        if tag == "pre":
            self.pre_depth += 1
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS and self.hidden_depth:
            self.hidden_depth -= 1
        if tag == "title":
            self.in_title = False
        if tag == "h1":
            self.in_h1 = False
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        if self.hidden_depth:
            return
        if self.in_h1:
            self.heading_parts.append(data)
        if self.pre_depth:  # keep preformatted spacing through the line stripping in `html_to_text`
            self.parts.append(data.replace(" ", _KEPT_SPACE).replace("\t", _KEPT_SPACE * 4))
        else:
            self.parts.append(_SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page. The title is `<title>`, else the first `<h1>`, else empty.

    Example: ``html_to_text("<title>T</title><p>a <b>b</b></p><p>c</p>")`` → ``("T", "a b\\nc\\n")``.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().replace(_KEPT_SPACE, " ")
    title = " ".join("".join(parser.title_parts).split()) or " ".join("".join(parser.heading_parts).split())
    return title, text + "\n" if text else ""
