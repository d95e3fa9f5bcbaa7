"""The voting page's HTTP edge: standard-library ThreadingHTTPServer over one VoteSession.

GET / is the page (jinja2, autoescape on, inline CSS and JS under a per-response CSP nonce, so it needs no
network and an answer that smuggled markup through could still not run a script). GET /api/next hands out a
battle without model names (texts raw and as rendered markdown, judge.answer_html); POST /api/vote takes
{"token", "choice"} as application/json (a cross-site form cannot send that without a preflight the server
never grants) and answers with the names; POST /api/skip {"token"} passes a battle over for this session;
GET /api/summary is the session's tally (also sent with every vote and with "done"). Every refusal is a
JSON {"error": ...} with a 4xx status. On loopback, a Host header naming another site is refused too (DNS
rebinding would otherwise let any web page read and vote through the server).
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import jinja2

from judge._hosts import is_loopback
from judge.answer_html import MARKDOWN_CSS, SAFE_HTML_JS
from judge.battles import TIES
from judge.errors import InputError
from judge.store import StoredVote
from judge.vote.core import Shown, VoteRejected, VoteSession

MAX_BODY: Final = 4096
MAX_DEPTH: Final = 8  # a vote is one flat object; deeper nesting is refused before it is parsed
IDLE_TIMEOUT_S: Final = 10.0  # a connection that sends nothing for this long is closed (half-sent requests)
BACKLOG: Final = 128  # pending connections the kernel queues while every handler thread is busy
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("judge.vote", "."),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def reveal(shown: Shown, vote: StoredVote) -> dict[str, Any]:
    """The answer to a vote: who was A and B, and what the judge said, in the page's orientation."""
    battle = shown.battle
    judge = battle.judge_winner
    if judge in ("model_a", "model_b"):
        winner = battle.model_a if judge == "model_a" else battle.model_b
        judge = "a" if winner == shown.shown_a else "b"
    elif judge in TIES:
        judge = "bothbad" if judge == "tie (bothbad)" else "tie"
    return {
        "a": shown.shown_a,
        "b": shown.shown_b,
        "choice": vote.choice,
        "judge": judge,
        "close": battle.close,
    }


def _reject_constant(name: str) -> Any:
    """json.loads accepts NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Nesting deeper than `limit`, counting brackets outside strings (deep bodies exhaust the parser)."""
    depth, in_string, escaped = 0, False, False
    for char in body.decode("utf-8", errors="replace"):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class _Handler(BaseHTTPRequestHandler):
    server: VoteServer
    server_version = "judge-vote"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S  # per connection: a client that stalls mid-request loses its thread

    def handle(self) -> None:
        """A client that hangs up or stalls is its own business: no traceback on the server's stderr."""
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's errors (bad request line, unknown method, 414) as JSON like ours."""
        try:
            if code == HTTPStatus.NOT_IMPLEMENTED:
                self._not_allowed()
                return
            self._error(code, message or HTTPStatus(code).phrase)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass  # the CLI prints the URL; per-request lines would only bury it

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _foreign_host(self) -> bool:
        """Refuse a Host header naming another site (a DNS-rebinding page reaching a loopback server)."""
        if not self.server.loopback:
            return False  # served on purpose to other machines, under whatever name they use
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.strip("[]") in ("localhost", "127.0.0.1", "::1", self.server.host):
            return False
        self._error(421, "this server answers only to localhost")
        return True

    def do_GET(self) -> None:
        if self._foreign_host():
            return
        session = self.server.session
        path = self.path.split("?", 1)[0]
        if path == "/":
            nonce = secrets.token_urlsafe(16)
            page = _ENV.get_template("page.html.j2").render(
                voter=session.voter,
                nonce=nonce,
                safe_html_js=SAFE_HTML_JS,
                markdown_css=MARKDOWN_CSS,
                **session.progress(),
            )
            csp = (
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'"
            )
            self._send(200, page.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": csp})
        elif path == "/api/next":
            shown = session.next_battle()
            progress = session.progress()
            if shown is None:
                self._json(200, {"done": True, "summary": session.summary().to_json(), **progress})
            else:
                self._json(200, {"done": False, "battle": shown.page(), **progress})
        elif path == "/api/summary":
            self._json(200, {"summary": session.summary().to_json(), **session.progress()})
        else:
            self._error(404, f"no such page: {path}")

    def do_POST(self) -> None:
        if self._foreign_host():
            return
        session = self.server.session
        if self.path == "/api/vote":
            body = self._body({"token", "choice"})
            if body is None:
                return
            try:
                shown, vote = session.record(body["token"], body["choice"])
            except VoteRejected as exc:
                self._error(exc.status, exc.message)
                return
            summary = session.summary().to_json()
            self._json(200, {"reveal": reveal(shown, vote), "summary": summary, **session.progress()})
        elif self.path == "/api/skip":
            body = self._body({"token"})
            if body is None:
                return
            try:
                session.skip(body["token"])
            except VoteRejected as exc:
                self._error(exc.status, exc.message)
                return
            self._json(200, {"skipped": session.summary().skipped, **session.progress()})
        else:
            self._error(404, f"no such endpoint: {self.path}")

    def _body(self, keys: set[str]) -> dict[str, Any] | None:
        """The request's JSON object with exactly `keys`, or None after answering with the refusal."""
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            self._error(415, "send the vote as application/json")
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(411, "a Content-Length header is required")
            return None
        if not 0 <= length <= MAX_BODY:
            self._error(413, f"a vote is at most {MAX_BODY} bytes")
            return None
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True  # the client went away mid-body
            return None
        if _too_deep(raw):
            self._error(400, f"the request body is nested deeper than {MAX_DEPTH} levels")
            return None
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            self._error(400, f"the request body is not valid JSON ({exc})")
            return None
        if not isinstance(body, dict) or set(body) != keys:
            fields = ", ".join(f'"{key}": ...' for key in sorted(keys, reverse=True))
            self._error(400, f"expected a JSON object {{{fields}}}")
            return None
        return body

    def _not_allowed(self) -> None:
        self.close_connection = True  # any body the client sent is not read
        body = b'{"error": "method not allowed"}'
        if self.command == "HEAD":
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "GET, POST")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, "application/json", {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed


class VoteServer(ThreadingHTTPServer):
    """The voting app on (host, port); port 0 picks a free one. Serve with serve_forever() or start()."""

    daemon_threads = True
    request_queue_size = BACKLOG  # the default 5 dropped most of a burst of simultaneous requests

    def __init__(self, session: VoteSession, host: str = "127.0.0.1", port: int = 0) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
        self.session = session
        self.host = host
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Disconnects and stalled clients are quiet; anything else is a bug and keeps its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def start(self) -> VoteServer:
        """Serve in a background thread (tests, notebooks); stop with close()."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="judge-vote", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> VoteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
