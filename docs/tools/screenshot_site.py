"""Screenshot every page of the built docs site in headless Chromium, to look at them as rendered.

Not run in CI (it needs Chromium and a local MathJax). The site loads MathJax from a CDN at view
time; where the CDN is unreachable, pass a local copy (`npm install mathjax@3` in some folder,
then `--mathjax FOLDER/node_modules/mathjax/es5`): the script copies the built site, rewrites the
MathJax script address in that copy only and serves it on localhost. Typical use:

    mkdocs build -d /tmp/site
    python docs/tools/screenshot_site.py /tmp/site --out /tmp/shots \\
        --mathjax /tmp/mj/node_modules/mathjax/es5

writes one PNG per page (`index.png`, `getting-started.png`, `notebooks__causal_pinn.png`, ...)
of the first 2400 pixels; `--tiles N` renders the page N times as tall and cuts it into N
screens (`NAME.png`, `NAME.2.png`, ...; blank ones are dropped), for the parts of long pages
below the first screen. `--only WORD` keeps the pages whose path contains it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CDN_MATHJAX = re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@3/es5/")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format, *args):  # noqa: A002, D102 - the http.server hook
        pass


def pages(site: Path) -> list[Path]:
    """Every page of the built site (its `index.html` files and `404.html`), relative."""
    found = sorted(p.relative_to(site) for p in site.rglob("index.html"))
    return [p for p in found if not p.parts[0].startswith(("assets", "search"))]


def shot_name(page: Path) -> str:
    """File name of a page's screenshot: its folder path joined by `__` (the root: `index`)."""
    return ("__".join(page.parent.parts) or "index") + ".png"


def cut_tiles(path: Path, n_tiles: int) -> list[Path]:
    """Cut a tall screenshot into `n_tiles` screens (`NAME.png`, `NAME.2.png`, ...), dropping
    the blank ones below the end of the page."""
    from PIL import Image, ImageChops

    image = Image.open(path).convert("RGB")
    height = image.height // n_tiles
    written = []
    for i in range(n_tiles):
        tile = image.crop((0, i * height, image.width, (i + 1) * height))
        blank = not ImageChops.difference(tile, Image.new("RGB", tile.size, "white")).getbbox()
        if i and blank:
            continue
        target = path if i == 0 else path.with_suffix(f".{i + 1}.png")
        tile.save(target)
        written.append(target)
    return written


def serve_copy(site: Path, mathjax: Path | None, root: Path) -> None:
    """Copy the site to `root`; with `mathjax`, serve it from /_mathjax/ instead of the CDN."""
    shutil.copytree(site, root, dirs_exist_ok=True)
    if mathjax is None:
        return
    shutil.copytree(mathjax, root / "_mathjax", dirs_exist_ok=True)
    for html in root.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        if CDN_MATHJAX.search(text):
            html.write_text(CDN_MATHJAX.sub("/_mathjax/", text), encoding="utf-8")


def screenshot(chromium: str, url: str, out: Path, size: str, wait_ms: int) -> None:
    """One screenshot of `url` into `out` with a fresh, throw-away profile."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--virtual-time-budget={wait_ms}", f"--screenshot={out}", url],
            check=True, capture_output=True, timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    """Serve the built site on localhost and write a screenshot of each page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build -d SITE)")
    parser.add_argument("--out", type=Path, default=Path("site-shots"), help="PNG folder")
    parser.add_argument("--mathjax", type=Path, help="local MathJax es5 folder (for no CDN)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--window-size", default="1280,2400", help="width,height in pixels")
    parser.add_argument("--wait-ms", type=int, default=8000, help="virtual time to render")
    parser.add_argument("--tiles", type=int, default=1, help="screens per page (long pages)")
    parser.add_argument("--only", action="append", default=[], help="keep pages matching")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"site: expected a built site with index.html, got {args.site}")
    if args.tiles < 1:
        parser.error(f"--tiles: expected a positive number of screens, got {args.tiles}")
    if args.mathjax is not None and not (args.mathjax / "tex-mml-chtml.js").is_file():
        parser.error(f"--mathjax: expected a folder with tex-mml-chtml.js, got {args.mathjax}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as served:
        root = Path(served)
        serve_copy(args.site, args.mathjax, root)
        handler = functools.partial(_QuietHandler, directory=served)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            for page in pages(root):
                if args.only and not any(word in str(page) for word in args.only):
                    continue
                url = f"{base}/{page.parent.as_posix()}/".replace("/./", "/")
                out = args.out / shot_name(page)
                width, height = args.window_size.split(",")
                size = f"{width},{int(height) * args.tiles}"
                screenshot(args.chromium, url, out, size, args.wait_ms)
                shots = cut_tiles(out, args.tiles) if args.tiles > 1 else [out]
                print(f"{url}  ->  {', '.join(p.name for p in shots)}", flush=True)
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
