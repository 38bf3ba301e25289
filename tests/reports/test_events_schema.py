"""POST /api/v1/events in the OpenAPI schema: its body (one event or a batch) and its answer are
typed, and the documented example is accepted as documented."""

from __future__ import annotations

import pytest

from tests.reports.conftest import bearer
from tests.reports.test_api import key

pytestmark = pytest.mark.integration


def test_the_events_body_and_answer_are_in_the_openapi_schema(client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/events"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    one, batch = content["schema"]["oneOf"]
    assert one["title"] == "Event" and set(one["required"]) == {"event_id", "user_id", "name", "occurred_at"}
    assert list(one["properties"]) == ["event_id", "user_id", "org_id", "name", "occurred_at", "properties"]
    assert one["properties"]["occurred_at"]["format"] == "date-time" and one["additionalProperties"] is False
    assert batch["items"] == one and batch["maxItems"] == 1000
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IngestOut"}

    example = content["examples"]["one event"]["value"]
    answer = client.post("/api/v1/events", json=example, headers=bearer(key(client, "ingest")))
    assert answer.status_code == 200 and (answer.json()["accepted"], answer.json()["duplicates"]) == (1, 0)
