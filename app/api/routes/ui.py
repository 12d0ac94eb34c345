"""The archivists' web page: static files (plain ES modules and CSS, no build step) served
under ``/ui``.

The page itself needs no token to load; it asks for one and sends it with every API call.
Nothing is fetched from anywhere but this server (the security policy forbids it).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

UI_DIR = (Path(__file__).resolve().parents[2] / "ui").resolve()

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Images are frames and masks the page fetches itself and shows as blob: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (ETag): an upgraded package must not leave stale modules behind.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.api_route("/ui", methods=["GET", "HEAD"])
def ui_root() -> RedirectResponse:
    # Relative, so the page works behind a proxy that mounts the API under a prefix.
    return RedirectResponse(url="ui/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.api_route("/ui/{path:path}", methods=["GET", "HEAD"])
def ui_file(path: str) -> FileResponse:
    """A file of the page; the page routes by the URL's fragment, so ``/ui/`` is the only
    HTML address."""
    target = (UI_DIR / (path or "index.html")).resolve()
    media_type = MEDIA_TYPES.get(target.suffix)
    if media_type is None or not target.is_relative_to(UI_DIR) or not target.is_file():
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="no such file")
    return FileResponse(target, media_type=media_type, headers=HEADERS)
