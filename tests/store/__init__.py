"""Tests of the store: snapshots, alerts and backtest runs in SQLite."""
