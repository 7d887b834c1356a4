"""The local backend's HTTP function API as an admin, independent of sync_client: what tests
use to seed and read an app's tables around a real sync."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from support.local_backend import LocalBackend


class AdminClient:
    """Runs a deployment's functions (internal ones included) with the backend's admin key."""

    def __init__(self, backend: LocalBackend) -> None:
        self._http = httpx.Client(
            base_url=backend.url,
            headers={"Authorization": f"Convex {backend.admin_key}"},
            timeout=20.0,
        )

    def call(self, kind: str, path: str, args: Mapping[str, Any]) -> Any:
        """`kind` is `query`, `mutation` or `action`; the function's value, or the test fails."""
        response = self._http.post(
            f"/api/{kind}", json={"path": path, "args": dict(args), "format": "json"}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        return body["value"]

    def rows(self) -> list[dict[str, Any]]:
        """Every aiModels document, oldest first (this project's `queries/aiModels:list`)."""
        rows: list[dict[str, Any]] = self.call("query", "queries/aiModels:list", {})
        return rows

    def close(self) -> None:
        self._http.close()
