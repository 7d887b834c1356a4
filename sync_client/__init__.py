"""sync-models: keep a Convex aiModels table in step with OpenRouter."""

__version__ = "0.1.0"
