"""Shared pytest fixtures: each real server the tests talk to lives in tests/support/."""

pytest_plugins = [
    "support.env_fixtures",
    "support.openrouter_fixtures",
    "support.local_backend_fixtures",
    "support.posix_only",
    "support.built_package",
]
