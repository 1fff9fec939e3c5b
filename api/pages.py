"""The pages for people other than the customer: the courier app (``/courier/``), the store console
(``/store/``) and the dispatcher console (``/ops/``).

Static files only (no build step, nothing fetched from elsewhere); they speak the public REST and
WebSocket API like any other client. Each lives under its own path, so the courier app's service
worker (scope ``/courier/``) covers that app and nothing else of the site.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"
# app -> file -> (media type, cache policy): code and manifests are always revalidated, so an update reaches phones.
# Files are routed one by one (no catch-all), so ``/ops/console.js`` does not shadow the API's ``/ops/...``.
APPS: dict[str, dict[str, tuple[str, str]]] = {
    "courier": {
        "app.js": ("text/javascript", "no-cache"),
        "sw.js": ("text/javascript", "no-cache"),
        "manifest.webmanifest": ("application/manifest+json", "no-cache"),
        "icon.svg": ("image/svg+xml", "max-age=86400"),
    },
    "store": {"app.js": ("text/javascript", "no-cache")},
    "ops": {"console.js": ("text/javascript", "no-cache")},
}

router = APIRouter(include_in_schema=False)


def _page(app_name: str) -> FileResponse:
    return FileResponse(STATIC / app_name / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


KIT = "kit.js"  # the pages' shared helpers (``api/static/kit.js``), served beside each page


def _file(app_name: str, name: str, media: str, cache: str) -> None:
    path = STATIC / name if name == KIT else STATIC / app_name / name

    async def serve() -> FileResponse:
        return FileResponse(path, media_type=media, headers={"Cache-Control": cache})

    router.add_api_route(f"/{app_name}/{name}", serve, methods=["GET"], name=f"{app_name}_{name}")


def _mount(app_name: str) -> None:
    async def root() -> RedirectResponse:
        return RedirectResponse(f"/{app_name}/", status_code=308)

    async def page() -> FileResponse:
        return _page(app_name)

    router.add_api_route(f"/{app_name}", root, methods=["GET"], name=f"{app_name}_root")
    router.add_api_route(f"/{app_name}/", page, methods=["GET"], name=f"{app_name}_page")
    for name, (media, cache) in {KIT: ("text/javascript", "no-cache"), **APPS[app_name]}.items():
        _file(app_name, name, media, cache)


for _app in APPS:
    _mount(_app)
