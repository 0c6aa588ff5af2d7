"""Checks of the self-contained HTML reports the commands write."""

import base64
from html.parser import HTMLParser
from pathlib import Path

__all__ = ('Page', 'read_page')


class Page(HTMLParser):
    """The tags, links, images and tables of a page; refuses misnested tags."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in ('meta', 'img', 'br'):
            self.open.append(tag)
        self.tables += tag == 'table'
        if tag == 'a':
            self.links.append(values['href'] or '')
        if tag == 'img':
            self.images.append(values['src'] or '')

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()


def read_page(path: Path) -> Page:
    """Parse a report: every tag closed in order, every image an embedded PNG,
    every link a file or folder next to it.
    """
    page = Page()
    page.feed(path.read_text())
    assert page.open == []
    for image in page.images:
        assert image.startswith('data:image/png;base64,')
        png = base64.b64decode(image.split(',', 1)[1])
        assert png[:8] == b'\x89PNG\r\n\x1a\n'
    for link in page.links:
        assert (path.parent / link).exists(), link
    return page
