"""The files behind a service's own browser page (the dashboard, the inbox, the signing page):
read from the `static/` folder of the service's package and served by that service itself, so a
page needs no CDN and no second origin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

from fastapi.responses import Response

from shared.problems import NotFound


class UnknownAsset(NotFound):
    """The page has no static file of that name."""

    title = "Unknown asset"
    slug = "unknown-asset"


@dataclass(frozen=True)
class PageAssets:
    """The static files of one page: `media_types` names the files a browser may fetch."""

    package: str
    media_types: Mapping[str, str]

    def read(self, name: str) -> str:
        return (files(self.package) / "static" / name).read_text(encoding="utf-8")

    def response(self, name: str) -> Response:
        """A listed asset, revalidated on each load (so a new release shows at once)."""
        media_type = self.media_types.get(name)
        if media_type is None:
            raise UnknownAsset(f"no asset named {name!r}")
        return Response(self.read(name), media_type=media_type, headers={"Cache-Control": "no-cache"})
