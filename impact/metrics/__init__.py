"""Metrics: the catalog of definitions and the one engine that computes them for any selection. Never imports the store."""
