"""A loopback stand-in for OpenRouter's rankings dataset (and the models list it joins with).

    with RankingsServer(api_key="sk-test") as server:
        server.set_models(load_snapshot("models-2025-12-02")["data"])
        server.set_rows([ranking_row("2026-11-25", "openai/gpt-4o-2024-05-13", 1200), ...])
        fetch_rankings(server.base_url, api_key=Secret("sk-test"))

`GET /api/v1/datasets/rankings-daily` answers in the documented shape (dataset v1):
`{"data": [{"date", "model_permaslug", "total_tokens": "<decimal string>"}, ...],
"meta": {"as_of", "start_date", "end_date", "version": "v1"}}` — rows sorted by date, then
tokens descending (ties by permaslug), with one `other` row per date last, and filtered by the
`start_date` / `end_date` query parameters when given. A request without
`Authorization: Bearer <api_key>` gets 401 in OpenRouter's error shape. `GET /api/v1/models`
serves `{"data": models}`. Queued `Respond` faults answer the next rankings requests first.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.openrouter_server import RecordedRequest, Respond

RANKINGS_PATH = "/api/v1/datasets/rankings-daily"
MODELS_PATH = "/api/v1/models"
AS_OF = "2026-11-27T02:00:00Z"


def ranking_row(date: str, permaslug: str, total_tokens: int) -> dict[str, Any]:
    """One row as the API sends it (`total_tokens` is a decimal string)."""
    return {"date": date, "model_permaslug": permaslug, "total_tokens": str(total_tokens)}


def rankings_body(
    rows: Iterable[Mapping[str, Any]],
    *,
    start_date: str | None = None,
    end_date: str | None = None,
    other_tokens: int = 1000,
) -> dict[str, Any]:
    """The response for `rows` within [start_date, end_date], in the API's order and shape."""
    selected = [
        dict(row)
        for row in rows
        if (start_date is None or row["date"] >= start_date)
        and (end_date is None or row["date"] <= end_date)
    ]
    selected.sort(key=lambda r: (r["date"], -int(r["total_tokens"]), r["model_permaslug"]))
    data: list[dict[str, Any]] = []
    dates = sorted({row["date"] for row in selected})
    for date in dates:
        data.extend(row for row in selected if row["date"] == date)
        data.append(ranking_row(date, "other", other_tokens))
    return {
        "data": data,
        "meta": {
            "as_of": AS_OF,
            "start_date": start_date or (dates[0] if dates else "2026-10-27"),
            "end_date": end_date or (dates[-1] if dates else "2026-11-26"),
            "version": "v1",
        },
    }


class RankingsServer:
    """The loopback server; thread-safe; use as a context manager."""

    def __init__(self, *, api_key: str = "sk-or-test-key", host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self._host = host
        self._lock = threading.Lock()
        self._models: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []
        self._faults: deque[Respond] = deque()
        self._requests: list[RecordedRequest] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RankingsServer:
        httpd = ThreadingHTTPServer((self._host, 0), _make_handler(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    @property
    def base_url(self) -> str:
        """What OPENROUTER_BASE_URL should be."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return f"http://{self._host}:{self._httpd.server_address[1]}/api/v1"

    def set_models(self, models: Iterable[Mapping[str, Any]]) -> RankingsServer:
        with self._lock:
            self._models = [dict(model) for model in models]
        return self

    def set_rows(self, rows: Iterable[Mapping[str, Any]]) -> RankingsServer:
        with self._lock:
            self._rows = [dict(row) for row in rows]
        return self

    def enqueue(self, *faults: Respond) -> RankingsServer:
        """Answer the next rankings requests with these, in order."""
        with self._lock:
            self._faults.extend(faults)
        return self

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def rankings_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if urlsplit(r.path).path == RANKINGS_PATH]

    def _answer(self, request: RecordedRequest) -> Respond:
        parts = urlsplit(request.path)
        with self._lock:
            self._requests.append(request)
            if parts.path == MODELS_PATH:
                return Respond.json({"data": self._models})
            if parts.path != RANKINGS_PATH:
                return Respond.error(404, f"no route for {parts.path}")
            if request.header("authorization") != f"Bearer {self.api_key}":
                return Respond.error(401, "No auth credentials found")
            if self._faults:
                return self._faults.popleft()
            query = parse_qs(parts.query)
            return Respond.json(
                rankings_body(
                    self._rows,
                    start_date=query.get("start_date", [None])[0],
                    end_date=query.get("end_date", [None])[0],
                )
            )


def _make_handler(server: RankingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            request = RecordedRequest(
                self.command,
                self.path,
                {name.lower(): value for name, value in self.headers.items()},
            )
            response = server._answer(request)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

    return Handler


def models_payload(models: Iterable[Mapping[str, Any]]) -> bytes:
    """`{"data": models}` as bytes (for parse_catalog in unit tests)."""
    return json.dumps({"data": list(models)}).encode()
