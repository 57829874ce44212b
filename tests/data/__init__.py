"""Tests of ``crossmargin.data`` (download, load and validate, the bar store); the files beside them are the
real market data they read (``PROVENANCE.md``)."""
