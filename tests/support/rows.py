"""`aiModels` rows as the deployment returns them, for fakes that stand in for a store."""

from __future__ import annotations

from typing import cast

from sync_client.convex_types import ModelRow


def model_row(api_id: str, **fields: object) -> ModelRow:
    """A row with the fields every `aiModels` document has (`_creationTime` 0, inactive), then
    `fields`; like the SDK's, its values are not checked."""
    row = {
        "_id": f"id-{api_id}",
        "_creationTime": 0.0,
        "apiIdentifier": api_id,
        "provider": api_id.split("/", 1)[0],
        "modelName": api_id,
        "isActive": False,
        **fields,
    }
    return cast(ModelRow, row)
