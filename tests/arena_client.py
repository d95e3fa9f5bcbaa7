"""A small standard-library client of `judge arena` for the tests: a cookie jar, JSON posts, SSE parsing."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON of a plain response
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def text(self, side: str) -> str:
        return "".join(d["text"] for name, d in self.events if name == "delta" and d["side"] == side)

    def event(self, name: str) -> dict[str, Any]:
        return next(d for n, d in self.events if n == name)


class Client:
    """One browser: its own cookies."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(
        self,
        path: str,
        data: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> Reply:
        body = None if data is None else (data if isinstance(data, bytes) else json.dumps(data).encode())
        req = urllib.request.Request(self.url + path, data=body, headers=dict(headers or {}))
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with self.opener.open(req, timeout=120) as response:
                return _read(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            return _read(exc.code, exc.headers, exc.read())

    def page(self) -> Reply:
        return self.request("/")

    def turn(self, prompt: str, battle_id: str | None = None) -> Reply:
        return self.request("/api/turn", {"battle_id": battle_id, "prompt": prompt})

    def vote(self, battle_id: str, choice: str) -> Reply:
        return self.request("/api/vote", {"battle_id": battle_id, "choice": choice})


def _read(status: int, headers: Any, raw: bytes) -> Reply:
    kind = headers.get("Content-Type", "")
    reply = Reply(status, headers={k: v for k, v in headers.items()})
    if kind.startswith("text/event-stream"):
        for block in raw.decode().split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in lines:
                reply.events.append((lines["event"], json.loads(lines.get("data", "{}"))))
    elif kind.startswith("application/json"):
        reply.body = json.loads(raw)
    else:
        reply.body = raw.decode("utf-8", "replace")
    return reply
