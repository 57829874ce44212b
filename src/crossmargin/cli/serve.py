"""``crossmargin serve``: run the web dashboard with uvicorn, on 127.0.0.1 unless a token guards it.

FastAPI and uvicorn are imported inside the command.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from crossmargin.cli.render import fail

__all__ = ["LOCAL_HOSTS", "register"]

#: Hosts that only this machine can reach: the ones allowed without a token.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to bind; others than 127.0.0.1 need a token.")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8765,
        token: Annotated[
            str | None,
            typer.Option("--token", help="Bearer token every /api request must send (or CROSSMARGIN_TOKEN)."),
        ] = None,
        store: Annotated[str | None, typer.Option("--store", help="Database of recorded runs (URL or path).")] = None,
    ) -> None:
        """Serve the dashboard: JSON API (OpenAPI at /openapi.json) and pages with offline plotly.js."""
        secret = token or os.environ.get("CROSSMARGIN_TOKEN") or None
        if host not in LOCAL_HOSTS and secret is None:
            raise fail(f"--host {host}: binding beyond 127.0.0.1/localhost needs --token or CROSSMARGIN_TOKEN")
        import uvicorn  # noqa: PLC0415  (the server is needed only by this command)

        from crossmargin.web.app import create_app  # noqa: PLC0415  (FastAPI only loads for this command)

        uvicorn.run(create_app(token=secret, store_url=store), host=host, port=port)
