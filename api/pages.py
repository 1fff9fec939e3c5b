"""The pages for people other than the customer: the courier app (``/courier/``) and the store console (``/store/``).

Static files only (no build step, nothing fetched from elsewhere); they speak the public REST and
WebSocket API like any other client. Each lives under its own path, so the courier app's service
worker (scope ``/courier/``) covers that app and nothing else of the site.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"
# app -> file -> (media type, cache policy): code and manifests are always revalidated, so an update reaches phones
APPS: dict[str, dict[str, tuple[str, str]]] = {
    "courier": {
        "app.js": ("text/javascript", "no-cache"),
        "sw.js": ("text/javascript", "no-cache"),
        "manifest.webmanifest": ("application/manifest+json", "no-cache"),
        "icon.svg": ("image/svg+xml", "max-age=86400"),
    },
    "store": {"app.js": ("text/javascript", "no-cache")},
}

router = APIRouter(include_in_schema=False)


def _mount(app_name: str) -> None:
    files = APPS[app_name]

    @router.get(f"/{app_name}", name=f"{app_name}_root")
    async def root() -> RedirectResponse:
        return RedirectResponse(f"/{app_name}/", status_code=308)

    @router.get(f"/{app_name}/", name=f"{app_name}_page")
    async def page() -> FileResponse:
        return FileResponse(STATIC / app_name / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @router.get(f"/{app_name}/{{name}}", name=f"{app_name}_file")
    async def file(name: str) -> FileResponse:
        if name not in files:
            raise HTTPException(404, f"no such file in the {app_name} app: {name}")
        media, cache = files[name]
        return FileResponse(STATIC / app_name / name, media_type=media, headers={"Cache-Control": cache})


for _app in APPS:
    _mount(_app)
