"""ConvexStore over real sockets: the local backend, a closed port, a server that never answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sync_client.convex_store import ConvexStore
from sync_client.errors import ConfigError, ConvexCallError, ConvexUnavailableError
from sync_client.settings import Secret

MODEL: dict[str, Any] = {
    "apiIdentifier": "acme/widget-1",
    "modelName": "Acme: Widget 1",
    "provider": "acme",
    "slug": "acme-widget-1",
    "isFree": False,
    "contextWindow": 131072,
    "inputCostPer1MTokens": 0.2,
    "outputCostPer1MTokens": 3.0,
}
WRONG_KEY = Secret("prod:wrong-deployment|0123456789abcdef0123456789abcdef")


def admin_key(backend: Any) -> Secret:
    key = backend.admin_key
    return key if isinstance(key, Secret) else Secret(str(key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never says a word: the SDK waits forever without a deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def assert_unavailable_within(
    store: ConvexStore, timeout_s: float, secret: Secret, *, may_fail_fast: bool = False
) -> str:
    started = time.monotonic()
    with pytest.raises(ConvexUnavailableError) as caught:
        store.list_models()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < timeout_s + 1.5
    assert f"cannot reach or authenticate to {store.host}" in message
    if not may_fail_fast:
        assert elapsed >= timeout_s * 0.9 and f"within {timeout_s:g} s" in message
    assert secret.reveal() not in message + str(caught.value.hint)
    assert "0123456789abcdef" not in message
    return message


def test_a_closed_port_is_unavailable_by_the_deadline() -> None:
    # The SDK sometimes gives up on a refused first connection at once; either way it is
    # unavailability, never a hang and never a per-model error.
    for _attempt in range(2):
        with ConvexStore(f"http://127.0.0.1:{free_port()}", WRONG_KEY, timeout_s=1.0) as store:
            assert_unavailable_within(store, 1.0, WRONG_KEY, may_fail_fast=True)
            assert_unavailable_within(store, 1.0, WRONG_KEY, may_fail_fast=True)


def test_a_server_that_never_answers_is_unavailable_after_the_deadline(silent_server: str) -> None:
    with ConvexStore(silent_server, WRONG_KEY, timeout_s=1.0) as store:
        assert_unavailable_within(store, 1.0, WRONG_KEY)
        assert_unavailable_within(store, 1.0, WRONG_KEY)  # a fresh worker replaced the killed one


def test_the_deadline_holds_in_any_thread_while_the_others_keep_running(
    silent_server: str,
) -> None:
    errors: list[BaseException] = []
    messages: list[str] = []
    with ConvexStore(silent_server, WRONG_KEY, timeout_s=1.0) as store:

        def call() -> None:
            try:
                messages.append(assert_unavailable_within(store, 1.0, WRONG_KEY))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        ticks = 0
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.05)
            ticks += 1
    assert errors == [] and len(messages) == 2
    assert ticks >= 15  # 1 s of waiting: the main thread ran throughout


def test_bad_urls_are_config_errors_and_the_repr_hides_the_key() -> None:
    with pytest.raises(ConfigError):
        ConvexStore("not a url", None)
    store = ConvexStore("https://happy-otter-123.convex.cloud", WRONG_KEY)
    assert WRONG_KEY.reveal() not in repr(store)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.list_models()


# --- against the local backend ----------------------------------------------------------------


def test_upsert_inserts_then_updates_and_list_reads_the_row(backend: Any) -> None:
    with ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store:
        first = store.upsert(MODEL)
        second = store.upsert({**MODEL, "outputCostPer1MTokens": 2.5})
        assert (first.action, second.action) == ("inserted", "updated")
        assert first.id == second.id
        (row,) = store.list_models()
    assert row["apiIdentifier"] == MODEL["apiIdentifier"]
    assert row["outputCostPer1MTokens"] == 2.5
    assert row["isActive"] is False and row["syncedFromOpenRouter"] is True


def test_set_active_returns_the_row_and_unknown_ids_carry_the_error_data(backend: Any) -> None:
    with ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store:
        store.upsert(MODEL)
        row = store.set_active(MODEL["apiIdentifier"], True)
        assert row["isActive"] is True
        store.upsert(MODEL)
        assert store.list_models()[0]["isActive"] is True
        with pytest.raises(ConvexCallError) as caught:
            store.set_active("nobody/none", True)
    data = caught.value.data
    assert isinstance(data, dict) and data["apiIdentifier"] == "nobody/none"


def test_a_rejected_value_is_a_call_error_naming_the_field(backend: Any) -> None:
    with ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store:
        with pytest.raises(ConvexCallError) as caught:
            store.upsert({**MODEL, "inputCostPer1MTokens": -1})
        data = caught.value.data
        assert isinstance(data, dict) and data["field"] == "inputCostPer1MTokens"
        with pytest.raises(ConvexCallError, match="Validator"):
            store.upsert({**MODEL, "isFree": "yes"})
        assert store.list_models() == []


def test_upsert_many_lands_good_items_and_reports_bad_ones(backend: Any) -> None:
    items = [MODEL, {**MODEL, "apiIdentifier": "acme/bad", "contextWindow": 0}]
    with ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store:
        good, bad = store.upsert_many(items)
        assert good.ok and good.action == "inserted" and good.id
        assert not bad.ok and bad.api_identifier == "acme/bad"
        assert "contextWindow" in str(bad.error)
        assert [row["apiIdentifier"] for row in store.list_models()] == ["acme/widget-1"]


def test_upsert_many_sends_every_chunk_in_order(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sync_client.convex_store.BATCH_SIZE", 2)
    items = [{**MODEL, "apiIdentifier": f"acme/widget-{n}"} for n in range(5)]
    with ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store:
        results = store.upsert_many(items)
        rows = store.list_models()
    expected = [item["apiIdentifier"] for item in items]
    assert [result.api_identifier for result in results] == expected
    assert sorted(row["apiIdentifier"] for row in rows) == expected


def test_without_a_deploy_key_the_internal_functions_are_refused(backend: Any) -> None:
    with (
        ConvexStore(backend.url, None, timeout_s=10) as store,
        pytest.raises(ConvexUnavailableError, match="Could not find public function") as caught,
    ):
        store.list_models()
    assert "CONVEX_DEPLOY_KEY" in str(caught.value.hint)


def test_a_wrong_deploy_key_is_unavailable_after_the_deadline(backend: Any) -> None:
    with ConvexStore(backend.url, WRONG_KEY, timeout_s=1.5) as store:
        assert_unavailable_within(store, 1.5, WRONG_KEY)


def test_a_function_that_throws_is_a_call_error(backend: Any) -> None:
    backend.set_faults(failFunctions={"mutations/syncModels:upsertModel": "disk on fire"})
    with (
        ConvexStore(backend.url, admin_key(backend), timeout_s=10) as store,
        pytest.raises(ConvexCallError, match="disk on fire"),
    ):
        store.upsert(MODEL)
