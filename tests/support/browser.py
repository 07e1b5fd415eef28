"""The system's headless Chromium and an app served to it on a real uvicorn port."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every host but the loopback fails to resolve: a page that needs the network shows it.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def chromium() -> str:
    """The system's Chromium (Debian `chromium`; `scripts/ensure-chromium` installs it)."""
    if os.environ.get("BATON_SKIP_BROWSER_TESTS") == "1":
        pytest.skip("BATON_SKIP_BROWSER_TESTS=1")
    for candidate in (os.environ.get("BATON_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.fail("Chromium is missing: run scripts/ensure-chromium, or set BATON_SKIP_BROWSER_TESTS=1")


@asynccontextmanager
async def headless_chromium(*, offline: bool = False) -> AsyncIterator[Browser]:
    """The system's headless Chromium; `offline`, it resolves no host but the loopback."""
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_ARGS, *(OFFLINE_ARGS if offline else [])]
        )
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def serving(app: FastAPI, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """The app under uvicorn on a free loopback port; yields its base URL. `lifespan="off"`
    serves pages that need no database or broker (API docs) without connecting to either."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()
