"""A fake model server on loopback that speaks what the official SDKs call, live and in batches.

Live: OpenAI's ``/v1/chat/completions`` and Anthropic's ``/v1/messages``. Batches: OpenAI's files (upload,
content) and batches (create, list, retrieve, cancel; validating -> in_progress -> completed / expired /
failed) and Anthropic's message batches (create, list, retrieve, cancel, results). Answers are
deterministic: a judge prompt (one that asks for a ``VERDICT:`` line) gets a verdict line, a JSON-schema
request a valid instance, anything else a short text derived from a hash of the conversation.

Each created batch takes the next entry of ``plan`` (then "ok"): ``ok`` answers every item; ``partial``
answers every third item with a server error; ``expire`` answers the first half and expires the rest;
``fail`` fails the whole batch (OpenAI) / errors every item (Anthropic). A batch stays in progress for
``polls_to_end`` retrieves and while ``hold`` is set. ``submitted`` lists every custom_id ever sent.
``create_faults`` makes the next creations fail: ``refuse`` creates nothing, ``lose`` creates the batch but
answers 500; ``on_create(batch_id)`` runs once a batch exists, before its reply (a client killed there).

    with BatchServer() as server:
        server.openai_url        # base_url for the openai SDK (ends in /v1)
        server.anthropic_url     # base_url for the anthropic SDK
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from typing import Any

from judge.providers.echo import instance_of
from tests.loopback import LoopbackServer, QuietHandler


def answer_text(body: dict[str, Any]) -> str:
    """The deterministic answer to a chat or messages request body."""
    parts = [str(body.get("model") or ""), str(body.get("system") or "")]
    for message in body.get("messages") or []:
        content = message.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content, sort_keys=True))
    text = "\n".join(parts)
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
    schema = schema or ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if schema:
        return json.dumps(instance_of(schema, digest))
    if "VERDICT" in text:
        return "The answers differ.\nVERDICT: " + ("A", "B", "TIE")[digest % 3]
    return f"answer {digest % 16**8:08x}"


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    text = answer_text(body)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": str(body.get("model", "fake")),
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


def chat_events(body: dict[str, Any]) -> bytes:
    """The same answer as server-sent events (stream: true), in two pieces."""
    text = answer_text(body)
    events = []
    for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
        delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [delta]}
        events.append(f"data: {json.dumps(chunk)}\n\n")
    return ("".join(events) + "data: [DONE]\n\n").encode()


def messages_body(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "fake")),
        "content": [{"type": "text", "text": answer_text(body)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 10},
    }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class BatchServer(LoopbackServer):
    """The fake server in a background thread on a free loopback port; use as a context manager."""

    name = "batch-server"

    def __init__(self, *, polls_to_end: int = 1, delay_s: float = 0.0) -> None:
        self.polls_to_end = polls_to_end
        self.delay_s = delay_s  # live calls only
        self.die_after: int | None = None  # live calls answered before the server dies (a crashed replica)
        self.dead = False
        self._stopped = False
        self.hold = threading.Event()  # while set, batches stay in progress
        # Called with the new batch's id once it exists, before the reply goes out (a client killed there).
        self.on_create: Any = None
        # Faults of the next batch creations: "refuse" (500, nothing created), "lose" (created, then a 500).
        self.create_faults: deque[str] = deque()
        self.plan: deque[str] = deque()
        self.submitted: list[str] = []
        self.live_calls = 0
        self.paths: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._ids = 0
        super().__init__()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: later connections are refused (a replica that died)."""
        with self._lock:
            stopping, self._stopped = not self._stopped, True
        if stopping:
            self._shut_down()

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:06d}"

    # batches, provider-neutral: a list of (custom_id, request body), settled when they end

    def _create(
        self, kind: str, items: list[tuple[str, dict[str, Any]]], extra: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            batch_id = self._new_id("batch" if kind == "openai" else "msgbatch")
            self.submitted.extend(cid for cid, _ in items)
            plan = self.plan.popleft() if self.plan else "ok"
            batch = {"id": batch_id, "kind": kind, "items": items, "plan": plan, "polls": 0, "ended": None,
                     "created": time.time(), "results": None, "cancelled": False, **extra}  # fmt: skip
            self._batches[batch_id] = batch
            return batch

    def _created(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.on_create is not None:
            self.on_create(batch["id"])
        return batch

    def _listed(self, kind: str) -> list[dict[str, Any]]:
        """A kind's batches, newest first (both providers list that way), without counting as polls."""
        with self._lock:
            return [b for b in reversed(self._batches.values()) if b["kind"] == kind]

    @staticmethod
    def _page(data: list[dict[str, Any]]) -> dict[str, Any]:
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False}

    def _advance(self, batch: dict[str, Any]) -> None:
        """Count a retrieve; end the batch (computing its results) once it has been polled enough."""
        with self._lock:
            batch["polls"] += 1
            if batch["ended"] is not None or self.hold.is_set():
                return
            if batch["polls"] < self.polls_to_end and not batch["cancelled"]:
                return
            results = []
            n = len(batch["items"])
            for i, (cid, body) in enumerate(batch["items"]):
                plan = batch["plan"]
                if batch["cancelled"]:
                    outcome = "canceled"
                elif plan == "fail" or (plan == "partial" and i % 3 == 0):
                    outcome = "error"
                elif plan == "expire" and i >= n // 2:
                    outcome = "expired"
                else:
                    outcome = "ok"
                results.append((cid, body, outcome))
            batch["results"] = results
            batch["ended"] = time.time()

    def _openai_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = batch["results"]
        status, output_id, error_id = "in_progress", None, None
        counts = {"total": len(batch["items"]), "completed": 0, "failed": 0}
        if results is not None:
            ok = [r for r in results if r[2] == "ok"]
            bad = [r for r in results if r[2] != "ok"]
            counts = {"total": len(results), "completed": len(ok), "failed": len(bad)}
            if batch["plan"] == "fail":
                status = "failed"
            else:
                status = {"expire": "expired"}.get(
                    batch["plan"], "cancelled" if batch["cancelled"] else "completed"
                )
                output_id = batch.setdefault(
                    "output_file", self._store_file([self._openai_line(r) for r in ok])
                )
                if bad:
                    error_id = batch.setdefault(
                        "error_file", self._store_file([self._openai_line(r) for r in bad])
                    )
        return {
            "id": batch["id"],
            "object": "batch",
            "endpoint": batch["endpoint"],
            "input_file_id": batch["input_file_id"],
            "completion_window": batch["completion_window"],
            "status": status,
            "created_at": int(batch["created"]),
            "output_file_id": output_id,
            "error_file_id": error_id,
            "request_counts": counts,
            "metadata": batch.get("metadata"),
        }

    @staticmethod
    def _openai_line(result: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
        cid, body, outcome = result
        line: dict[str, Any] = {"id": f"req_{cid}", "custom_id": cid, "response": None, "error": None}
        if outcome == "ok":
            line["response"] = {"status_code": 200, "request_id": "r", "body": chat_body(body)}
        elif outcome == "error":
            error = {"message": "the server had an error", "type": "server_error"}
            line["response"] = {"status_code": 500, "request_id": "r", "body": {"error": error}}
        else:
            line["error"] = {"code": f"batch_{outcome}", "message": "not run before the batch ended"}
        return line

    def _store_file(self, lines: list[dict[str, Any]]) -> str:
        file_id = self._new_id("file")
        self._files[file_id] = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return file_id

    def _anthropic_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = batch["results"]
        counts = {
            "processing": len(batch["items"]),
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        }
        if results is not None:
            counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
            for _, _, outcome in results:
                counts[{"ok": "succeeded", "error": "errored"}.get(outcome, outcome)] += 1
        created = batch["created"]
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": "in_progress" if results is None else "ended",
            "request_counts": counts,
            "created_at": _iso(created),
            "expires_at": _iso(created + 86400),
            "ended_at": None if results is None else _iso(batch["ended"]),
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": None
            if results is None
            else f"{self.url}/v1/messages/batches/{batch['id']}/results",
        }

    @staticmethod
    def _anthropic_line(result: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
        cid, body, outcome = result
        if outcome == "ok":
            return {"custom_id": cid, "result": {"type": "succeeded", "message": messages_body(body)}}
        if outcome == "error":
            error = {"type": "error", "error": {"type": "api_error", "message": "the server had an error"}}
            return {"custom_id": cid, "result": {"type": "errored", "error": error}}
        return {"custom_id": cid, "result": {"type": outcome}}

    # HTTP

    def _route(self, method: str, path: str, raw: bytes, content_type: str) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")
        with self._lock:
            self.paths[f"{method} {path}"] += 1
            self.log.append((time.monotonic(), method, path))
        if method == "POST" and parts[-2:] == ["chat", "completions"]:
            if json.loads(raw or b"{}").get("stream"):
                return self._live(raw, chat_events)
            return self._live(raw, chat_body)
        if method == "POST" and parts == ["v1", "messages"]:
            return self._live(raw, messages_body)
        if method == "POST" and parts == ["v1", "files"]:
            return 200, self._upload(raw, content_type)
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "files"] and parts[3] == "content":
            data = self._files.get(parts[2])
            return (200, data) if data is not None else (404, {"error": {"message": "no such file"}})
        if parts[:2] == ["v1", "batches"]:
            return self._openai_route(method, parts[2:], raw)
        if parts[:3] == ["v1", "messages", "batches"]:
            return self._anthropic_route(method, parts[3:], raw)
        return 404, {"error": {"message": f"no route for {method} {path}"}}

    def _live(self, raw: bytes, make: Any) -> tuple[int, Any]:
        with self._lock:
            self.live_calls += 1
            if self.die_after is not None and self.live_calls >= self.die_after and not self.dead:
                self.dead = True
                threading.Thread(target=self.stop, daemon=True).start()
        if self.delay_s:
            time.sleep(self.delay_s)
        return 200, make(json.loads(raw or b"{}"))

    def _upload(self, raw: bytes, content_type: str) -> dict[str, Any]:
        message = BytesParser(policy=policy.default).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        data, purpose, name = b"", "batch", "upload.jsonl"
        for part in message.iter_parts():
            field = part.get_param("name", header="content-disposition")
            if field == "file":
                data = part.get_payload(decode=True) or b""
                name = part.get_filename() or name
            elif field == "purpose":
                purpose = (part.get_payload(decode=True) or b"").decode()
        with self._lock:
            file_id = self._new_id("file")
            self._files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": name, "purpose": purpose, "status": "processed"}  # fmt: skip

    def _openai_route(self, method: str, rest: list[str], raw: bytes) -> tuple[int, Any]:
        if method == "POST" and not rest:
            body = json.loads(raw)
            data = self._files.get(body["input_file_id"])
            if data is None:
                return 404, {"error": {"message": "no such input file"}}
            items = [
                (row["custom_id"], row["body"]) for row in map(json.loads, data.decode().splitlines()) if row
            ]
            extra = {k: body.get(k) for k in ("endpoint", "input_file_id", "completion_window", "metadata")}
            fault = self.create_faults.popleft() if self.create_faults else None
            if fault == "refuse":
                return 500, {"error": {"message": "the server had an error"}}
            created = self._openai_batch(self._created(self._create("openai", items, extra)))
            return (500, {"error": {"message": "lost"}}) if fault == "lose" else (200, created)
        if method == "GET" and not rest:
            return 200, self._page([self._openai_batch(b) for b in self._listed("openai")])
        batch = self._batches.get(rest[0]) if rest else None
        if batch is None:
            return 404, {"error": {"message": "no such batch"}}
        if method == "POST" and rest[1:] == ["cancel"]:
            batch["cancelled"] = True
            return 200, self._openai_batch(batch)
        self._advance(batch)
        return 200, self._openai_batch(batch)

    def _anthropic_route(self, method: str, rest: list[str], raw: bytes) -> tuple[int, Any]:
        if method == "POST" and not rest:
            requests = json.loads(raw)["requests"]
            items = [(r["custom_id"], r["params"]) for r in requests]
            fault = self.create_faults.popleft() if self.create_faults else None
            error = {"type": "error", "error": {"type": "api_error", "message": "the server had an error"}}
            if fault == "refuse":
                return 500, error
            created = self._anthropic_batch(self._created(self._create("anthropic", items, {})))
            return (500, error) if fault == "lose" else (200, created)
        if method == "GET" and not rest:
            return 200, self._page([self._anthropic_batch(b) for b in self._listed("anthropic")])
        batch = self._batches.get(rest[0]) if rest else None
        if batch is None:
            return 404, {"type": "error", "error": {"type": "not_found_error", "message": "no such batch"}}
        if method == "POST" and rest[1:] == ["cancel"]:
            batch["cancelled"] = True
            return 200, self._anthropic_batch(batch)
        if rest[1:] == ["results"]:
            if batch["results"] is None:
                return 400, {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "not ended"},
                }
            lines = "".join(json.dumps(self._anthropic_line(r)) + "\n" for r in batch["results"])
            return 200, lines.encode()
        self._advance(batch)
        return 200, self._anthropic_batch(batch)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                if server.dead:  # a crashed replica: drop the connection without an answer
                    self.close_connection = True
                    return
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = self._chunked()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                try:
                    status, payload = server._route(
                        method, self.path, raw, self.headers.get("Content-Type", "")
                    )
                except Exception as exc:  # a bug here must show as a failure, not a hung client
                    status, payload = 500, {"error": {"message": f"fake server bug: {exc!r}"}}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                kind = "application/octet-stream" if isinstance(payload, bytes) else "application/json"
                if isinstance(payload, bytes) and payload.startswith(b"data: "):
                    kind = "text/event-stream"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
