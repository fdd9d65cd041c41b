"""Fail on mathematics that reached the built site as raw LaTeX instead of MathJax input.

`pymdownx.arithmatex` (generic mode) wraps every formula it recognises in an element of class
`arithmatex`, which MathJax then typesets. A `\\(`, `\\[` or `$$` anywhere else in a page's text
(outside those elements, code, scripts and styles) is a formula that arithmatex missed, e.g. one
escaped by Markdown, and would show up as source in the browser.

    python docs/tools/check_math.py SITE_DIR     # after `mkdocs build --site-dir SITE_DIR`
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

RAW_MATH = re.compile(r"\\\(|\\\[|\$\$")
_SKIPPED_TAGS = {"code", "pre", "script", "style", "textarea"}
_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}


class _RawMathFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: does it hide its text from the check?
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID_TAGS:
            return
        classes = (dict(attrs).get("class") or "").split()
        hidden = tag in _SKIPPED_TAGS or "arithmatex" in classes
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag):
        if tag not in _VOID_TAGS and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1]:
            return
        for match in RAW_MATH.finditer(data):
            start = max(match.start() - 30, 0)
            self.found.append(data[start : match.end() + 30].replace("\n", " "))


def find_raw_math(html: str) -> list[str]:
    """Snippets of `html` text with `\\(`, `\\[` or `$$` outside arithmatex elements and code.

    **Arguments:**

    - `html`: one page of the built site.

    **Returns:** the offending snippets (about 30 characters either side), empty when clean.
    """
    finder = _RawMathFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def arithmatex_count(html: str) -> int:
    """Number of elements of class `arithmatex` in `html` (formulas handed to MathJax)."""
    return len(re.findall(r"""class=["'][^"']*\barithmatex\b""", html))


def check_site(site: Path) -> dict[str, list[str]]:
    """Raw-math snippets per HTML page of a built site (pages without any are left out)."""
    problems = {}
    for page in sorted(Path(site).rglob("*.html")):
        found = find_raw_math(page.read_text(encoding="utf-8", errors="replace"))
        if found:
            problems[str(page.relative_to(site))] = found
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python docs/tools/check_math.py SITE_DIR", file=sys.stderr)
        return 2
    site = Path(argv[0])
    problems = check_site(site)
    pages = list(site.rglob("*.html"))
    formulas = sum(arithmatex_count(p.read_text(encoding="utf-8", errors="replace")) for p in pages)
    for page, snippets in problems.items():
        for snippet in snippets:
            print(f"{page}: raw LaTeX outside arithmatex: ...{snippet}...")
    if problems:
        return 1
    print(f"check_math: {len(pages)} pages, {formulas} formulas for MathJax, no raw LaTeX")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
