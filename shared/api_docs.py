"""The API documentation pages (`/docs`, `/redoc`) served with their assets from this process.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank offline or behind a
proxy that blocks it, while the rest of Baton (the dashboard included) needs no network beyond its
own. The assets come from the `fastapi-offline` package, which ships them; Baton uses only its
files, so the pages stay FastAPI's own (`get_swagger_ui_html`, `get_redoc_html`). ReDoc still
links a logo from its CDN, unconditionally: the pages' Content-Security-Policy keeps every
request on this origin, and ReDoc drops an image that fails to load.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from shared.responses import NewlineJSONResponse

DOCS_ASSETS = "/docs-assets"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# Both pages start their UI from an inline script, and ReDoc injects styles and runs its search
# in a worker built from a blob.
SAME_ORIGIN_ONLY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
}


def install_api_docs(app: FastAPI) -> None:
    """Serve the OpenAPI document, Swagger UI and ReDoc. The app must be built with
    `docs_url=None, redoc_url=None, openapi_url=None`, so FastAPI adds no CDN pages of its own."""
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    def root(request: Request) -> str:
        # Behind a proxy that strips a prefix, the page must ask for its assets under that prefix.
        return str(request.scope.get("root_path", ""))

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi_document() -> NewlineJSONResponse:
        return NewlineJSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        page = get_swagger_ui_html(
            openapi_url=prefix + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{prefix}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=prefix + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(SAME_ORIGIN_ONLY)
        return page

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        page = get_redoc_html(
            openapi_url=prefix + OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(SAME_ORIGIN_ONLY)
        return page
