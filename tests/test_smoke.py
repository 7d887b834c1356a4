"""The package imports and states its version."""

import sync_client


def test_package_has_version() -> None:
    assert sync_client.__version__.count(".") == 2
