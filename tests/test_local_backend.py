"""The local backend, driven by the real `convex` SDK (and the Convex CLI) over real sockets."""

from __future__ import annotations

import base64
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from convex import ConvexClient, ConvexError
from convex.http_client import ConvexHttpClient
from support.convex_cli import convex_project, run_convex_cli
from support.local_backend import (
    FIXTURE_FUNCTIONS,
    REPO_ROOT,
    LocalBackend,
    RawSyncSocket,
    backend_command,
    deadline,
    start_local_backend,
)

pytestmark = pytest.mark.timeout(90)

#: The tests that bound a raw SDK call with `deadline` (the SDK has no timeout of its own).
SDK_DEADLINE = pytest.mark.posix_only(
    reason="bounds raw Convex SDK calls with a SIGALRM timer (support.local_backend.deadline); "
    "ConvexStore's portable deadline drives the backend on every OS in the end-to-end tests"
)

UPSERT = "mutations/syncModels:upsertModel"
LIST = "queries/aiModels:list"
SET_ACTIVE = "mutations/activation:setActive"


def model_args(n: int = 1, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "apiIdentifier": f"acme/model-{n}",
        "modelName": f"Acme {n}",
        "provider": "acme",
        "slug": f"acme-model-{n}",
        "isFree": False,
        "contextWindow": 8192,
        "inputCostPer1MTokens": 1.5,
        "outputCostPer1MTokens": 3.0,
    }
    return args | overrides


def admin_client(backend: LocalBackend) -> ConvexClient:
    client = ConvexClient(backend.url)
    client.set_admin_auth(backend.admin_key)
    return client


@pytest.fixture(scope="module")
def notes_backend() -> Iterator[LocalBackend]:
    """A backend running the small fixture app (public and internal functions), fast pings."""
    with start_local_backend(
        functions_dir=FIXTURE_FUNCTIONS, extra_args=("--ping-interval-ms", "300")
    ) as backend:
        yield backend


@pytest.fixture
def notes(notes_backend: LocalBackend) -> LocalBackend:
    notes_backend.reset()
    return notes_backend


@SDK_DEADLINE
def test_admin_mutation_and_query_round_trip(backend: LocalBackend) -> None:
    connections_before = backend.stats()["connections"]
    client = admin_client(backend)
    with deadline(10):
        first = client.mutation(UPSERT, model_args())
        second = client.mutation(UPSERT, model_args(modelName="Acme One"))
        rows = client.query(LIST, {})
    assert first["action"] == "inserted"
    assert second == {"action": "updated", "id": first["id"]}
    assert [(r["_id"], r["modelName"], r["isActive"]) for r in rows] == [
        (first["id"], "Acme One", False)
    ]
    assert rows[0]["contextWindow"] == 8192
    # One socket for all three calls: a protocol slip would make the SDK silently reconnect.
    assert backend.stats()["connections"] == connections_before + 1


@SDK_DEADLINE
def test_subscription_sees_another_clients_mutation(backend: LocalBackend) -> None:
    watcher, writer = admin_client(backend), admin_client(backend)
    with deadline(10):
        updates = watcher.subscribe(LIST, {})
        assert next(updates) == []
        writer.mutation(UPSERT, model_args(7))
        rows: Any = next(updates)
    assert [r["apiIdentifier"] for r in rows] == ["acme/model-7"]


@SDK_DEADLINE
def test_anonymous_client_cannot_reach_internal_functions(backend: LocalBackend) -> None:
    mutations_before = backend.stats()["mutations"]
    anonymous = ConvexClient(backend.url)
    for call, name, args in [
        (anonymous.mutation, UPSERT, model_args()),
        (anonymous.query, LIST, {}),
    ]:
        with deadline(10), pytest.raises(Exception) as raised:
            call(name, args)
        assert not isinstance(raised.value, ConvexError)
        assert f"Could not find public function for '{name}'" in str(raised.value)
    assert backend.stats()["mutations"] == mutations_before


@SDK_DEADLINE
def test_public_and_internal_visibility(notes: LocalBackend) -> None:
    anonymous, admin = ConvexClient(notes.url), admin_client(notes)
    with deadline(10):
        anonymous.mutation("notes:add", {"text": "hello"})
        assert anonymous.query("notes:list", {}) == ["hello"]
        assert admin.query("notes:list", {}) == ["hello"]
        with pytest.raises(Exception, match="Could not find public function for 'notes:clear'"):
            anonymous.mutation("notes:clear", {})
        assert admin.mutation("notes:clear", {}) == 1
        assert anonymous.query("notes:list", {}) == []


@SDK_DEADLINE
def test_transaction_limits_are_enforced_and_roll_back(notes: LocalBackend) -> None:
    """A function over Convex's 4,096 index ranges fails naming the limit; its write is undone."""
    client = ConvexClient(notes.url)
    with deadline(30):
        assert (
            client.mutation("limits:addThenQuery", {"text": "at the limit", "queries": 4096})
            == 4096
        )
        with pytest.raises(Exception, match=r"Too many index ranges read .*limit: 4096"):
            client.mutation("limits:addThenQuery", {"text": "over the limit", "queries": 4097})
        assert client.query("notes:list", {}) == ["at the limit"]


@SDK_DEADLINE
def test_a_document_over_one_mib_is_refused(notes: LocalBackend) -> None:
    client = ConvexClient(notes.url)
    with deadline(30):
        client.mutation("limits:addLong", {"length": 1_000_000})
        with pytest.raises(Exception, match=r"Document is too large .*limit: 1048576 bytes"):
            client.mutation("limits:addLong", {"length": 1 << 20})
        assert [len(text) for text in client.query("notes:list", {})] == [1_000_000]


@SDK_DEADLINE
def test_arguments_over_the_limits_are_refused(notes: LocalBackend) -> None:
    client = ConvexClient(notes.url)
    with deadline(30):
        with pytest.raises(Exception, match=r"Arguments are too large .*limit: 16777216 bytes"):
            client.mutation("notes:add", {"text": "x" * (16 << 20)})
        with pytest.raises(Exception, match=r"Array has too many items \(8193; limit: 8192\)"):
            client.action("notes:echo", {"value": [0] * 8193})
        assert client.query("notes:list", {}) == []


@SDK_DEADLINE
def test_a_state_file_larger_than_one_transaction_loads_and_saves(tmp_path: Path) -> None:
    """17,000 documents are more than one transaction may write (16,000): the backend's own
    restore and dump run in transactions within Convex's limits."""
    count = 17_000
    state = tmp_path / "state.json"
    notes = [{"text": f"note {n}"} for n in range(count)]
    state.write_text(json.dumps({"format": "local-backend-state/1", "tables": {"notes": notes}}))
    with start_local_backend(
        functions_dir=FIXTURE_FUNCTIONS, extra_args=("--state-file", str(state))
    ) as backend:
        client = ConvexClient(backend.url)
        with deadline(60):
            texts = client.query("notes:list", {})
            client.mutation("notes:add", {"text": "one more"})
    assert texts == [f"note {n}" for n in range(count)]
    saved = json.loads(state.read_text())["tables"]["notes"]
    assert [note["text"] for note in saved] == [*texts, "one more"]


@SDK_DEADLINE
def test_action_round_trips_convex_values(notes: LocalBackend) -> None:
    value: dict[str, Any] = {"list": [1.5, "two", True, None], "nested": {"x": -0.25}}
    with deadline(10):
        assert ConvexClient(notes.url).action("notes:echo", {"value": value}) == value


@SDK_DEADLINE
def test_subscription_sees_what_an_action_wrote(notes: LocalBackend) -> None:
    watcher = ConvexClient(notes.url)
    with deadline(10):
        updates = watcher.subscribe("notes:list", {})
        assert next(updates) == []
        ConvexClient(notes.url).action("notes:addViaAction", {"text": "from an action"})
        assert next(updates) == ["from an action"]


@SDK_DEADLINE
def test_reset_reaches_open_subscriptions(notes: LocalBackend) -> None:
    watcher = ConvexClient(notes.url)
    with deadline(10):
        updates = watcher.subscribe("notes:list", {})
        assert next(updates) == []
        ConvexClient(notes.url).mutation("notes:add", {"text": "before the reset"})
        assert next(updates) == ["before the reset"]
        notes.reset()
        assert next(updates) == []


@SDK_DEADLINE
def test_convex_error_reaches_sdk_with_data(backend: LocalBackend) -> None:
    mutations_before = backend.stats()["mutations"]
    client = admin_client(backend)
    with deadline(10), pytest.raises(ConvexError) as raised:
        client.mutation(UPSERT, model_args(inputCostPer1MTokens=-1))
    assert raised.value.data["field"] == "inputCostPer1MTokens"
    with deadline(10), pytest.raises(ConvexError) as missing:
        client.mutation(SET_ACTIVE, {"apiIdentifier": "nobody/none", "isActive": True})
    assert missing.value.data["apiIdentifier"] == "nobody/none"
    assert backend.stats()["mutations"] == mutations_before


@SDK_DEADLINE
def test_convex_error_data_keeps_int64_bytes_and_special_floats(notes: LocalBackend) -> None:
    expected = {"code": "EMPTY", "big": 2**40, "raw": b"\x00\x01\x02", "inf": float("-inf")}
    with deadline(10), pytest.raises(ConvexError) as raised:
        ConvexClient(notes.url).mutation("notes:add", {"text": ""})
    assert raised.value.data == expected
    # Over HTTP (convex_encoded_json) the same data arrives in Convex JSON; the legacy
    # client hands it over undecoded.
    with pytest.raises(ConvexError) as over_http:
        ConvexHttpClient(notes.url).mutation("notes:add", {"text": ""})
    assert over_http.value.data == {
        "code": "EMPTY",
        "big": {"$integer": base64.b64encode((2**40).to_bytes(8, "little")).decode()},
        "raw": {"$bytes": "AAEC"},
        "inf": {"$float": base64.b64encode(struct.pack("<d", float("-inf"))).decode()},
    }


@SDK_DEADLINE
def test_failing_function_is_a_plain_error(backend: LocalBackend) -> None:
    backend.set_faults(fail_functions={UPSERT: "disk on fire"})
    with deadline(10), pytest.raises(Exception, match="disk on fire") as raised:
        admin_client(backend).mutation(UPSERT, model_args())
    assert not isinstance(raised.value, ConvexError)


@SDK_DEADLINE
def test_wrong_admin_key_never_yields_a_result(backend: LocalBackend) -> None:
    mutations_before = backend.stats()["mutations"]
    client = ConvexClient(backend.url)
    client.set_admin_auth("local|not-the-key")
    with pytest.raises(TimeoutError), deadline(2.5):
        client.mutation(UPSERT, model_args())
    assert backend.stats()["mutations"] == mutations_before
    with deadline(10):
        assert admin_client(backend).query(LIST, {}) == []


def test_wrong_admin_key_gets_auth_error_and_close(backend: LocalBackend) -> None:
    raw = RawSyncSocket(backend.url)
    try:
        raw.send(connect_message())
        raw.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "no"})
        error = raw.receive()
        assert error is not None and error["type"] == "AuthError"
        assert error["baseVersion"] == 0
        assert raw.receive() is None
    finally:
        raw.close()


@SDK_DEADLINE
def test_dropped_socket_replayed_upsert_is_harmless(backend: LocalBackend) -> None:
    client = admin_client(backend)
    with deadline(10):
        client.mutation(UPSERT, model_args(1))
    before = backend.stats()
    # The next message (the upsert) commits, then its socket dies before the answer.
    backend.set_faults(drop_after_messages=1)
    with deadline(20):
        result = client.mutation(UPSERT, model_args(2))
        rows = client.query(LIST, {})
    after = backend.stats()
    assert after["connections"] > before["connections"]
    assert after["mutations"] == before["mutations"] + 2  # the original and the replay
    assert result["action"] == "updated"
    assert sorted(r["apiIdentifier"] for r in rows) == ["acme/model-1", "acme/model-2"]


@SDK_DEADLINE
def test_two_clients_at_once(backend: LocalBackend) -> None:
    errors: list[BaseException] = []

    def upsert_many(offset: int) -> None:
        try:
            client = admin_client(backend)
            for n in range(offset, offset + 50):
                client.mutation(UPSERT, model_args(n))
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    threads = [threading.Thread(target=upsert_many, args=(o,)) for o in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert errors == []
    with deadline(10):
        assert len(admin_client(backend).query(LIST, {})) == 100


@SDK_DEADLINE
def test_thousand_sequential_upserts_no_hang_no_memory_growth(backend: LocalBackend) -> None:
    """Live heap (after a full GC) must not grow with the number of calls: 100 models
    updated over and over keep the same documents. (convex-test alone keeps every query's
    results, ~1.6 MiB per 1,000 upserts; RSS is too noisy to see that.)"""
    client = admin_client(backend)

    def upsert_thousand(round_number: int) -> None:
        for n in range(1000):
            client.mutation(UPSERT, model_args(n % 100, inputCostPer1MTokens=float(round_number)))

    with deadline(60):
        upsert_thousand(0)  # warm-up: JIT, caches, the 100 documents themselves
    heap_before = backend.stats(collect_garbage=True)["heapUsed"]
    started = time.monotonic()
    with deadline(60):
        upsert_thousand(1)
    elapsed = time.monotonic() - started
    growth_mib = (backend.stats(collect_garbage=True)["heapUsed"] - heap_before) / 2**20
    assert growth_mib < 0.75, f"live heap grew {growth_mib:.2f} MiB over 1,000 upserts"
    assert elapsed < 30
    with deadline(10):
        assert len(client.query(LIST, {})) == 100


@SDK_DEADLINE
def test_npx_convex_run_against_local_backend(backend: LocalBackend, tmp_path: Path) -> None:
    with deadline(10):
        admin_client(backend).mutation(UPSERT, model_args(3))
    args = json.dumps({"apiIdentifier": "acme/model-3", "isActive": True})
    # A copy of the project: the CLI reads `.env.local` from where it runs, and a developer's
    # (a deploy key, say) would pick another deployment or stop the CLI.
    completed = run_convex_cli(convex_project(tmp_path / "app"), backend, "run", SET_ACTIVE, args)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["isActive"] is True
    with deadline(10):
        assert admin_client(backend).query(LIST, {})[0]["isActive"] is True


def test_npx_convex_run_reports_missing_function(backend: LocalBackend, tmp_path: Path) -> None:
    project = convex_project(tmp_path / "app")
    completed = run_convex_cli(project, backend, "run", "mutations/activation:nope")
    assert completed.returncode == 1
    assert "Could not find function for 'mutations/activation:nope'" in completed.stderr
    assert "mutations/activation:setActive" in completed.stderr  # the list of what exists


def test_http_api(backend: LocalBackend) -> None:
    admin = {"Authorization": f"Convex {backend.admin_key}"}
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        inserted = http.post(
            "/api/mutation",
            headers=admin,
            json={"path": UPSERT, "args": model_args(4), "format": "json"},
        ).json()
        assert inserted["status"] == "success" and inserted["value"]["action"] == "inserted"
        listed = http.post(
            "/api/run/queries/aiModels/list", headers=admin, json={"args": {}, "format": "json"}
        ).json()
        assert [r["apiIdentifier"] for r in listed["value"]] == ["acme/model-4"]
        failed = http.post(
            "/api/function",
            headers=admin,
            json={
                "path": UPSERT,
                "args": model_args(4, outputCostPer1MTokens=-2),
                "format": "convex_encoded_json",
            },
        ).json()
        assert failed["status"] == "error"
        assert failed["errorData"]["field"] == "outputCostPer1MTokens"
        hidden = http.post("/api/query", json={"path": LIST, "args": {}, "format": "json"}).json()
        assert hidden["status"] == "error"
        assert f"Could not find public function for '{LIST}'" in hidden["errorMessage"]
        bad_key = http.post(
            "/api/query", headers={"Authorization": "Convex wrong"}, json={"path": LIST, "args": {}}
        )
        assert bad_key.status_code == 401
        wrong_kind = http.post(
            "/api/query", headers=admin, json={"path": UPSERT, "args": {}}
        ).json()
        assert "as Query, but it is defined as Mutation" in wrong_kind["errorMessage"]


def test_http_value_formats(notes: LocalBackend) -> None:
    """`json` is Convex's clean export; `convex_encoded_json` keeps every type."""
    value = {
        "big": {"$integer": base64.b64encode((2**40).to_bytes(8, "little")).decode()},
        "raw": {"$bytes": "AAEC"},
        "inf": {"$float": base64.b64encode(struct.pack("<d", float("inf"))).decode()},
        "n": 1.5,
    }
    with httpx.Client(base_url=notes.url, timeout=10) as http:

        def echo(fmt: str) -> Any:
            body = {"path": "notes:echo", "args": {"value": value}, "format": fmt}
            return http.post("/api/action", json=body).json()["value"]

        assert echo("json") == {"big": str(2**40), "raw": "AAEC", "inf": "Infinity", "n": 1.5}
        assert echo("convex_encoded_json") == value


def test_legacy_http_client_reads_convex_encoded_json(backend: LocalBackend) -> None:
    client = ConvexHttpClient(backend.url)
    client.set_admin_auth(backend.admin_key)
    assert client.mutation(UPSERT, model_args(5))["action"] == "inserted"
    assert client.query(LIST, {})[0]["contextWindow"] == 8192.0


@SDK_DEADLINE
def test_added_latency(backend: LocalBackend) -> None:
    client = admin_client(backend)
    with deadline(10):
        client.query(LIST, {})
    backend.set_faults(latency_ms=300)
    started = time.monotonic()
    with deadline(10):
        client.mutation(UPSERT, model_args())
    assert time.monotonic() - started >= 0.3


def test_latency_is_per_round_trip_not_per_message(notes: LocalBackend) -> None:
    """A burst of messages waits one delay, as on a slow link, not one per message."""
    notes.set_faults(latency_ms=400)
    raw = RawSyncSocket(notes.url)
    try:
        started = time.monotonic()
        raw.send(connect_message())
        raw.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "None"})
        for request_id in range(3):
            raw.send(
                {
                    "type": "Mutation",
                    "requestId": request_id,
                    "udfPath": "notes:add",
                    "args": [{"text": f"n{request_id}"}],
                }
            )
        responses = 0
        while responses < 3:
            responses += next_non_ping(raw)["type"] == "MutationResponse"
        elapsed = time.monotonic() - started
    finally:
        raw.close()
    assert 0.4 <= elapsed < 0.8, f"{elapsed:.2f} s for one round trip at 400 ms"


def connect_message(**extra: Any) -> dict[str, Any]:
    return {
        "type": "Connect",
        "sessionId": "s",
        "connectionCount": 0,
        "lastCloseReason": "InitialConnect",
        "clientTs": 0,
    } | extra


@SDK_DEADLINE
def test_reconnect_with_a_timestamp_from_the_future_is_refused(notes: LocalBackend) -> None:
    """Like Convex: a client that saw a newer state than the backend's gets FatalError."""
    future = base64.b64encode((2**63).to_bytes(8, "little")).decode()
    raw = RawSyncSocket(notes.url)
    try:
        raw.send(connect_message(maxObservedTimestamp=future, lastCloseReason="reconnect"))
        raw.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "None"})
        raw.send(
            {"type": "Mutation", "requestId": 0, "udfPath": "notes:add", "args": [{"text": "x"}]}
        )
        fatal = next_non_ping(raw)
        assert fatal["type"] == "FatalError" and "ahead of the backend" in fatal["error"]
        assert raw.receive() is None
    finally:
        raw.close()
    with deadline(10):
        assert ConvexClient(notes.url).query("notes:list", {}) == []  # the mutation never ran


def test_reconnect_with_an_observed_timestamp_resumes(notes: LocalBackend) -> None:
    first = RawSyncSocket(notes.url)
    try:
        first.send(connect_message())
        first.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "None"})
        seen = next_non_ping(first)["endVersion"]["ts"]
    finally:
        first.close()
    second = RawSyncSocket(notes.url)
    try:
        second.send(connect_message(maxObservedTimestamp=seen, connectionCount=1))
        second.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "None"})
        transition = next_non_ping(second)
        assert transition["type"] == "Transition"
        assert ts(transition["endVersion"]["ts"]) >= ts(seen)
    finally:
        second.close()


def test_http_error_mode(backend: LocalBackend) -> None:
    backend.set_faults(http_error_status=503)
    assert (
        httpx.post(f"{backend.url}/api/query", json={"path": LIST, "args": {}}).status_code == 503
    )
    raw = RawSyncSocket(backend.url)
    raw.close()
    assert raw.status == 503
    backend.reset()
    raw = RawSyncSocket(backend.url)
    raw.close()
    assert raw.status == 101


def test_control_endpoint_rejects_unknown_faults(backend: LocalBackend) -> None:
    response = httpx.post(f"{backend.url}/_test/faults", json={"latency": 5})
    assert response.status_code == 400
    assert "unknown fault 'latency'" in response.text


def test_sync_protocol_versions_and_ping(notes: LocalBackend) -> None:
    raw = RawSyncSocket(notes.url)
    try:
        raw.send(connect_message())
        raw.send(
            {
                "type": "Authenticate",
                "baseVersion": 0,
                "tokenType": "Admin",
                "value": notes.admin_key,
            }
        )
        auth = next_non_ping(raw)
        zero = {"querySet": 0, "identity": 0, "ts": base64.b64encode(bytes(8)).decode()}
        assert auth["type"] == "Transition" and auth["startVersion"] == zero
        assert auth["endVersion"]["identity"] == 1 and auth["endVersion"]["querySet"] == 0
        raw.send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": 0,
                "newVersion": 1,
                "modifications": [
                    {"type": "Add", "queryId": 0, "udfPath": "notes.js:list", "args": [{}]}
                ],
            }
        )
        added = next_non_ping(raw)
        assert added["startVersion"] == auth["endVersion"]
        assert added["endVersion"]["querySet"] == 1
        assert added["modifications"][0] | {"logLines": []} == {
            "type": "QueryUpdated",
            "queryId": 0,
            "value": [],
            "logLines": [],
            "journal": None,
        }
        raw.send(
            {"type": "Mutation", "requestId": 0, "udfPath": "notes:add", "args": [{"text": "hi"}]}
        )
        response = next_non_ping(raw)
        assert response["type"] == "MutationResponse" and response["success"] is True
        released = next_non_ping(raw)
        assert released["startVersion"] == added["endVersion"]
        released_ts, mutation_ts = ts(released["endVersion"]["ts"]), ts(response["ts"])
        assert released_ts >= mutation_ts > ts(added["endVersion"]["ts"])
        assert [m["value"] for m in released["modifications"]] == [["hi"]]
        started = time.monotonic()
        assert raw.receive() == {"type": "Ping"}
        assert time.monotonic() - started < 2
    finally:
        raw.close()


def next_non_ping(raw: RawSyncSocket) -> dict[str, Any]:
    while True:
        message = raw.receive()
        assert message is not None, "server closed the socket"
        if message["type"] != "Ping":
            return message


def ts(encoded: str) -> int:
    return int.from_bytes(base64.b64decode(encoded), "little")


def test_stop_leaves_no_process_behind() -> None:
    with start_local_backend(functions_dir=FIXTURE_FUNCTIONS) as backend:
        leader = psutil.Process(backend.process.pid)
        family = [leader, *leader.children(recursive=True)]
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []
    assert backend.process.returncode == 0  # closing its stdin is a clean stop


@pytest.mark.posix_only(reason="sends SIGTERM and SIGINT to the backend's process group")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(signal_name: str) -> None:
    with start_local_backend(functions_dir=FIXTURE_FUNCTIONS) as backend:
        family = [psutil.Process(backend.process.pid)]
        family += family[0].children(recursive=True)
        os.killpg(backend.process.pid, getattr(signal, signal_name))
        assert backend.process.wait(timeout=10) == 0
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []


_OWNER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from support.local_backend import FIXTURE_FUNCTIONS, start_local_backend
with start_local_backend(functions_dir=FIXTURE_FUNCTIONS) as backend:
    print(backend.process.pid, backend.url, flush=True)
    time.sleep(120)
"""


def test_backend_dies_with_a_killed_owner() -> None:
    """A test run killed outright (SIGKILL: no finally, no atexit) leaves no backend behind."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_SCRIPT, str(REPO_ROOT / "tests")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid_text, url = owner.stdout.readline().split()
        leader = psutil.Process(int(pid_text))
        family = [leader, *leader.children(recursive=True)]
        assert httpx.get(f"{url}/version", timeout=5).status_code == 200
        assert not any("admin-key" in " ".join(p.cmdline()) for p in family)  # key not in argv
        owner.kill()
        owner.wait(timeout=5)
        _gone, alive = psutil.wait_procs(family, timeout=10)
        for process in alive:  # the failure is reported below; the orphans still go
            process.kill()
        assert alive == [], f"orphaned: {alive}"
    finally:
        owner.kill()
        if owner.stdout is not None:
            owner.stdout.close()


@pytest.mark.parametrize(
    "arguments",
    [
        ["--http-error-status", "200"],
        ["--latency-ms=-1"],
        ["--bogus"],
        ["--port", "x"],
        ["--port", "70000"],
        ["--functions-dir", "no/such/folder"],
    ],
)
def test_bad_flag_is_refused_at_start(arguments: list[str]) -> None:
    """Exit 2 with the usage and a line naming the flag, not a stack trace."""
    completed = subprocess.run(
        backend_command(*arguments),
        cwd=REPO_ROOT,
        env=os.environ | {"LOCAL_BACKEND_ADMIN_KEY": "k"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 2
    assert arguments[0].split("=")[0] in completed.stderr and "usage:" in completed.stderr
    assert "    at " not in completed.stderr and completed.stdout == ""
