"""Swagger UI from local files, so every `/docs` page works offline.

FastAPI's own `/docs` loads Swagger UI from a CDN: a blank page without the network. `install()`
replaces it (`offline_docs`) with a page whose script, stylesheet and favicon are the files that
the pinned PyPI package `fastapi-offline` ships (Swagger UI 5, which reads OpenAPI 3.1; the
package is MIT, Swagger UI itself Apache-2.0), served under `/docs/assets/`, and whose set-up is
the kit's own file, `/docs/init.js` (no inline script, so a strict Content-Security-Policy
holds). Only the package's files are used, not its `FastAPIOffline` factory: every service
builds its own `FastAPI`, and the kit works on the app it is given.

The page carries its settings as data attributes: the OpenAPI document's URL and headers that
"Try it out" adds to every request (the gateway adds `X-Requested-With: shelter-watch`, so a
signed-in browser's POSTs pass its CSRF guard). Keys typed into "Authorize" stay in the page's
memory (`persistAuthorization: false`): never in localStorage.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

ASSETS_PATH = "/docs/assets"
INIT_PATH = "/docs/init.js"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
INIT_FILE = Path(__file__).parent / "swagger" / "init.js"


def docs_page(*, title: str, openapi_url: str, headers: Mapping[str, str] | None = None) -> str:
    """The Swagger UI page over `openapi_url`; every URL in it is this origin's."""
    attrs = {"openapi-url": openapi_url, "headers": json.dumps(dict(headers or {}))}
    data = " ".join(f'data-{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)}</title>
  <link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
  <div id="swagger-ui" {data}></div>
  <script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
  <script src="{INIT_PATH}"></script>
</body>
</html>
"""


def serve_assets(app: FastAPI) -> None:
    """Mount Swagger UI's files and the kit's set-up script (not in the OpenAPI document)."""

    async def init_script() -> FileResponse:
        return FileResponse(INIT_FILE, media_type="text/javascript")

    app.add_api_route(INIT_PATH, init_script, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="swagger-ui")


def offline_docs(app: FastAPI) -> None:
    """Serve the assets, and replace FastAPI's CDN `/docs` (where the app has one)."""
    serve_assets(app)
    docs_url, openapi_url = app.docs_url, app.openapi_url
    if docs_url is None or openapi_url is None:
        return
    keep: list[BaseRoute] = [r for r in app.router.routes if getattr(r, "path", None) != docs_url]
    app.router.routes[:] = keep

    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page(title=f"{app.title} - API", openapi_url=openapi_url))

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
