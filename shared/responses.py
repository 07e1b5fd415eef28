"""How every Baton service writes JSON: compact, UTF-8, and ending with a newline.

The newline is for people: `curl` in a terminal otherwise prints the next prompt on the same
line as the answer. JSON parsers ignore trailing whitespace, so programs see no difference.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class NewlineJSONResponse(JSONResponse):
    """`JSONResponse` whose body ends with a newline; the services' default response class."""

    def render(self, content: Any) -> bytes:
        return super().render(content) + b"\n"
