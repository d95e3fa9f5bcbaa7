"""A real local HTTP server that misbehaves on purpose, for provider and retry tests.

It speaks just enough of OpenAI's ``/v1/chat/completions`` and Anthropic's ``/v1/messages`` for the official
SDKs, runs in a background thread on a free loopback port, and answers each request with the next scripted
step (then with plain successes once the script is used up). It records every request it received.

Usage::

    from tests.fault_server import FaultServer, Step

    with FaultServer() as server:
        server.script(Step.rate_limited(retry_after=2), Step.server_error(), Step.ok("fine"))
        endpoint = Endpoint("openai", model="m", base_url=server.openai_url, api_key="k", timeout_s=0.5)
        ...                                  # first call -> 429, second -> 500, third -> "fine"
        assert server.count == 3
        assert server.requests[0].path == "/v1/chat/completions"

``server.openai_url`` ends in ``/v1`` (what the openai SDK expects); ``server.anthropic_url`` is the bare root
(the anthropic SDK appends ``/v1/messages`` itself). Steps: ``ok(text)``, ``rate_limited(retry_after)``,
``server_error(status)``, ``error(status, message)`` (e.g. 401, 400), ``hang(seconds)`` (answer nothing until
the client gives up; cut short when the server stops), ``drop()`` (headers and half a body, then close),
``malformed()`` (200 with a body that is not JSON), ``wrong_shape()`` (200 with JSON missing the answer),
``echo_key(status)`` (an error quoting the API key it was sent, as OpenAI's 401 does, in body and headers).
``server.gate.clear()`` holds every answer (requests are still received and counted) until ``gate.set()``.
An ``ok`` step asked with ``stream: true`` on the OpenAI path answers as server-sent chunks.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, QuietHandler


@dataclass(frozen=True)
class Step:
    """What the server does for one request."""

    action: str = "ok"  # ok | status | echo_key | hang | drop | malformed | wrong_shape
    text: str = "ok"
    status: int = 200
    message: str = ""
    retry_after: str | None = None
    seconds: float = 0.0

    @staticmethod
    def ok(text: str = "ok") -> Step:
        return Step("ok", text=text)

    @staticmethod
    def rate_limited(retry_after: float | str | None = 1) -> Step:
        header = None if retry_after is None else str(retry_after)
        return Step("status", status=429, message="slow down", retry_after=header)

    @staticmethod
    def server_error(status: int = 500) -> Step:
        return Step("status", status=status, message="internal error")

    @staticmethod
    def error(status: int, message: str = "error") -> Step:
        return Step("status", status=status, message=message)

    @staticmethod
    def echo_key(status: int = 401) -> Step:
        """An error that quotes the API key the client sent, in the body and in response headers."""
        return Step("echo_key", status=status)

    @staticmethod
    def hang(seconds: float = 5.0) -> Step:
        return Step("hang", seconds=seconds)

    @staticmethod
    def drop() -> Step:
        return Step("drop")

    @staticmethod
    def malformed() -> Step:
        return Step("malformed")

    @staticmethod
    def wrong_shape() -> Step:
        return Step("wrong_shape")


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _chat_body(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _messages_body(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "msg_fault",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def _error_body(path: str, status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    if path.endswith("/messages"):
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": None, "param": None}}


class FaultServer(LoopbackServer):
    """A scripted HTTP server on 127.0.0.1; use as a context manager."""

    name = "fault-server"

    def __init__(self) -> None:
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Received] = []
        self.gate = threading.Event()  # cleared: requests are received (and counted) but wait to be answered
        self.gate.set()
        super().__init__()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def script(self, *steps: Step) -> None:
        """Queue steps; each request consumes one, and requests past the end succeed."""
        with self._lock:
            self._steps.extend(steps)

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.gate.set()
        self._shut_down()

    def _next(self, received: Received) -> Step:
        with self._lock:
            self.requests.append(received)
            return self._steps.popleft() if self._steps else Step.ok()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                step = server._next(Received(self.path, body, dict(self.headers.items())))
                server.gate.wait(timeout=300)
                model = str(body.get("model", "fault-model"))
                if step.action == "hang":
                    server._stopping.wait(step.seconds)
                    self.close_connection = True
                    return
                if step.action == "drop":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "4000")
                    self.end_headers()
                    self.wfile.write(b'{"id": "cut-')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if step.action == "malformed":
                    self._send(200, b'{"choices": [ this is not json', {})
                    return
                if step.action == "wrong_shape":
                    self._send(200, json.dumps({"id": "x", "unexpected": True}).encode(), {})
                    return
                if step.action == "echo_key":
                    sent = self.headers.get("x-api-key") or self.headers.get("Authorization", "")
                    key = sent.removeprefix("Bearer ")
                    message = f"Incorrect API key provided: {key}. Your header was 'Authorization: {sent}'."
                    payload = _error_body(self.path, step.status, message)
                    headers = {
                        "WWW-Authenticate": f'Bearer error="invalid_token", key="{key}"',
                        "X-Echo-Key": key,
                    }
                    self._send(step.status, json.dumps(payload).encode(), headers)
                    return
                if step.action == "status":
                    headers = {} if step.retry_after is None else {"Retry-After": step.retry_after}
                    payload = _error_body(self.path, step.status, step.message)
                    self._send(step.status, json.dumps(payload).encode(), headers)
                    return
                if self.path.endswith("/moderations"):  # flags any input that mentions "forbidden"
                    flagged = "forbidden" in str(body.get("input", ""))
                    result = {"flagged": flagged, "categories": {"violence": flagged}, "category_scores": {}}
                    payload = {"id": "modr-fault", "model": model, "results": [result]}
                    self._send(200, json.dumps(payload).encode(), {})
                    return
                if body.get("stream") and self.path.endswith("/chat/completions"):
                    self._stream(step.text, model)
                    return
                if self.path.endswith("/messages"):
                    payload = _messages_body(step.text, model)
                elif self.path.endswith("/chat/completions"):
                    payload = _chat_body(step.text, model)
                else:
                    self._send(404, json.dumps(_error_body(self.path, 404, "no such path")).encode(), {})
                    return
                self._send(200, json.dumps(payload).encode(), {})

            def _stream(self, text: str, model: str) -> None:
                """An ok step asked with stream=True: the text in chunks of a few characters, as SSE."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for start in range(0, len(text), 7):
                    delta = {"content": text[start : start + 7]}
                    chunk = {
                        "id": "chatcmpl-fault",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
