"""The web face: a FastAPI JSON API over crossmargin's functions and the static pages that draw it."""

from crossmargin.web.app import create_app

__all__ = ["create_app"]
