"""Pytest fixtures (filled in by the module's owner)."""
