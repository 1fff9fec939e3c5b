"""The people's pages that are not the customer's: the courier app under ``/courier/``.

Static files only (no build step, nothing fetched from elsewhere); they speak the public REST and
WebSocket API like any other client. The app lives under its own path so its service worker's scope
(``/courier/``) covers the app and nothing else of the site.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

COURIER = Path(__file__).parent / "static" / "courier"
# name -> (media type, cache policy): the service worker and the shell are always revalidated, so an update reaches phones
COURIER_FILES = {
    "app.js": ("text/javascript", "no-cache"),
    "sw.js": ("text/javascript", "no-cache"),
    "manifest.webmanifest": ("application/manifest+json", "no-cache"),
    "icon.svg": ("image/svg+xml", "max-age=86400"),
}

router = APIRouter(include_in_schema=False)


@router.get("/courier")
async def courier_root() -> RedirectResponse:
    return RedirectResponse("/courier/", status_code=308)


@router.get("/courier/")
async def courier_app() -> FileResponse:
    return FileResponse(COURIER / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/courier/{name}")
async def courier_file(name: str) -> FileResponse:
    if name not in COURIER_FILES:
        raise HTTPException(404, f"no such file in the courier app: {name}")
    media, cache = COURIER_FILES[name]
    return FileResponse(COURIER / name, media_type=media, headers={"Cache-Control": cache})
