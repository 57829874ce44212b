"""The web face: a FastAPI JSON API over crossmargin's functions and the static pages that draw it.

The app is in ``crossmargin.web.app`` (``create_app``); importing this package does not import FastAPI.
"""
