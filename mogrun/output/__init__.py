"""Renderers of a run session: terminal, plain, NDJSON, GitHub Actions."""
