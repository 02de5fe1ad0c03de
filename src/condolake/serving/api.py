"""The REST API over the gold tables (FastAPI), plus the dashboard's static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from condolake.config import Settings, revealed
from condolake.monitoring.exporter import MetricsSource, add_metrics
from condolake.serving.auth import KeyRing
from condolake.serving.cache import LruCache
from condolake.serving.lake_reader import LakeReader
from condolake.serving.routes import router
from condolake.serving.service import Serving

STATIC_DIR = Path(__file__).parent / "static"
# Swagger UI's files from the swagger-ui-bundle wheel: FastAPI's default /docs loads them from
# a CDN, which leaves the page blank without network.
DOCS_ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)
NO_CACHE = {"Cache-Control": "no-cache"}  # the browser revalidates: an upgrade shows at once
CACHE_ENTRIES = 4096
CACHE_BYTES = 64 * 1024 * 1024

DESCRIPTION = """\
Read-only access to the CondoLake gold marts, served from the Delta tables without a JVM.

Every `/v1` endpoint needs an API key in the `X-API-Key` header. Roles:
**admin** reads everything; **analista** reads everything (or one condominium when scoped) with
residents' names masked (`M*** d*** S***`), and the daily mart only when unscoped; **sindico**
reads its own condominium only, never the daily mart. Money is a string with two decimals.
"""


def create_app(settings: Settings, reader: LakeReader | None = None) -> FastAPI:
    """The API for the lake at `settings.lake_path` with the keys of `settings.serve_keys`."""
    keys = KeyRing.parse(revealed(settings.serve_keys))
    lake_reader = reader or LakeReader(settings.lake_path, settings.serve_refresh_s,
                                       settings.state_path / "duckdb-extensions")
    serving = Serving(lake_reader, keys, LruCache(CACHE_ENTRIES, CACHE_BYTES))
    metrics = MetricsSource(settings)  # the same /metrics as `condolake metrics`

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for table in lake_reader.tables:  # load what exists before the first request
            await run_in_threadpool(lake_reader.snapshot, table)
        yield
        lake_reader.close()
        metrics.close()

    app = FastAPI(title="CondoLake API", version="1.0.0", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.serving = serving
    app.include_router(router)
    add_metrics(app, metrics)
    _add_docs(app)
    _add_dashboard(app)
    return app


def _add_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="CondoLake API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png")


def _add_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            raise HTTPException(404, "the dashboard is not installed")
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=NO_CACHE)


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, without a lake or keys (it does not depend on them)."""
    return create_app(Settings(serve_keys=None)).openapi()
