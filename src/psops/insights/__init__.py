"""Dashboards and reports: reads across the whole chain, drawn as server-rendered SVG (no models of its own)."""
