"""Renderers of the one report model: terminal table, JSON, CSV (and later HTML, Prometheus)."""
