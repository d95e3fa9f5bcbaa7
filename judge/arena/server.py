"""The arena's web edge: aiohttp on one event loop in a thread of its own, beside the providers it streams.

Routes: GET / (the page), POST /api/login, POST /api/turn (a prompt in, both replies out as server-sent
events), POST /api/vote, GET /api/board (the latest leaderboard snapshot), GET /api/export (clean_battle
JSON).
Every POST must be application/json (a cross-site form cannot send that without a preflight, never granted);
on loopback a Host header naming another site is refused (DNS rebinding); the page runs under a CSP that
allows only its own nonce'd script and style. Model text streams in as JSON set through textContent; when a
reply is complete its "done" event carries it rendered as markdown (judge.answer_html: raw HTML off, safe
links only), which the page rebuilds from an inert parse with only the renderer's tags and attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import jinja2
from aiohttp import web

from judge._hosts import is_loopback
from judge.answer_html import MARKDOWN_CSS, SAFE_HTML_JS, to_html
from judge.arena.board import BoardKeeper, JudgeSide, pair_stats
from judge.arena.engine import Arena, Refused
from judge.arena.record import CLEAN_BATTLE_FILE, clean_battle
from judge.config import TournamentConfig
from judge.errors import InputError
from judge.providers import ProviderHub
from judge.store import DB_NAME, Store

COOKIE: Final = "judge_arena"
MAX_BODY: Final = 64 * 1024
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("judge.arena", "."), autoescape=True, undefined=jinja2.StrictUndefined
)
ARENA_KEY: Final = web.AppKey("arena", Arena)
KEEPER_KEY: Final = web.AppKey("keeper", BoardKeeper)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    headers = {} if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}
    return web.json_response({"error": message}, status=status, headers=headers)


def anonymous_voter(cookie: str) -> str:
    """The logged voter id of an anonymous browser: a hash, so the log never holds a usable cookie."""
    return "anon-" + hashlib.sha256(cookie.encode()).hexdigest()[:16]


class ArenaServer:
    """`judge arena` listening on (host, port); port 0 picks a free one. start() serves in a thread."""

    def __init__(
        self,
        config: TournamentConfig,
        out_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8766,
        judge: JudgeSide | None = None,
        seed: int | None = None,
        cache_dir: Path | None = None,
        min_interval: float = 1.0,
    ) -> None:
        self.config, self.out_dir, self.host = config, out_dir, host
        self.judge, self.seed, self.cache_dir, self.min_interval = judge, seed, cache_dir, min_interval
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(512)
        except OSError as exc:
            self._sock.close()
            raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
        with Store.open(out_dir / DB_NAME):  # migrate, or refuse a newer database, before serving
            pass
        self.votes_at_start = 0
        self.arena: Arena | None = None
        self.keeper: BoardKeeper | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host, port = str(self._sock.getsockname()[0]), self._sock.getsockname()[1]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def start(self) -> ArenaServer:
        self._thread = threading.Thread(target=self._run, name="judge-arena", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self.close()
            raise self._failure
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() or close()
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with ProviderHub(self.cache_dir) as hub:
            arena = self.arena = Arena(self.config, self.out_dir, hub, seed=self.seed)
            self.votes_at_start = await arena.start()

            def publish(result: dict[str, Any]) -> None:  # on the keeper's thread
                stats = pair_stats(result)
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(setattr, arena, "pair_stats", stats)

            keeper = self.keeper = BoardKeeper(
                self.out_dir,
                bootstrap=self.config.arena.bootstrap,
                seed=self.config.seed,
                judge=self.judge,
                min_interval=self.min_interval,
                on_update=publish,
            ).start()
            arena.on_stored = keeper.mark_dirty
            runner = web.AppRunner(
                self._app(arena, keeper), access_log=None, handle_signals=False, shutdown_timeout=1.0
            )
            await runner.setup()
            try:
                await web.SockSite(runner, self._sock).start()
                self._ready.set()
                await self._stopping.wait()
            finally:
                await runner.cleanup()
                await asyncio.to_thread(keeper.close)
                await arena.aclose()

    def close(self) -> None:
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sock.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C ends it from the main thread)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> ArenaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the app ---

    def _app(self, arena: Arena, keeper: BoardKeeper) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        app[ARENA_KEY], app[KEEPER_KEY] = arena, keeper
        app.router.add_get("/", self._page)
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/turn", self._turn)
        app.router.add_post("/api/vote", self._vote)
        app.router.add_get("/api/board", self._board)
        app.router.add_get("/api/export", self._export)
        app.on_response_prepare.append(_headers)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.loopback:
            name = (
                (request.host or "").rsplit(":", 1)[0]
                if not (request.host or "").endswith("]")
                else request.host
            )
            if name.strip("[]") not in ("localhost", "127.0.0.1", "::1", self.host):
                return _error(421, "this server answers only to localhost")
        if request.method == "POST" and request.content_type != "application/json":
            return _error(415, "send application/json")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return _error(exc.status, exc.reason)
            raise

    def _voter(self, request: web.Request) -> str | None:
        cookie = request.cookies.get(COOKIE, "")
        voters = self.config.arena.voters
        if voters is not None:
            return voters.get(cookie)
        return anonymous_voter(cookie) if len(cookie) >= 16 else None

    async def _body(self, request: web.Request, keys: tuple[str, ...]) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Refused(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict) or set(body) != set(keys):
            raise Refused(400, f"expected a JSON object with exactly {', '.join(keys)}")
        return body

    async def _page(self, request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(16)
        voters = self.config.arena.voters
        page = _ENV.get_template("page.html.j2").render(
            nonce=nonce,
            name=self.config.name,
            needs_token=voters is not None,
            show_login=voters is not None and self._voter(request) is None,
            max_prompt=self.config.arena.max_prompt_chars,
            max_turns=self.config.arena.max_turns,
            safe_html_js=SAFE_HTML_JS,
            markdown_css=MARKDOWN_CSS,
        )
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
            "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        if voters is None and self._voter(request) is None:
            response.set_cookie(
                COOKIE, secrets.token_urlsafe(24), max_age=365 * 86400, httponly=True, samesite="Strict"
            )
        return response

    async def _login(self, request: web.Request) -> web.StreamResponse:
        voters = self.config.arena.voters
        try:
            body = await self._body(request, ("token",))
        except Refused as exc:
            return _error(exc.status, exc.message)
        token = body["token"]
        if voters is None:
            return _error(404, "this arena needs no token")
        if not isinstance(token, str) or token not in voters:
            return _error(403, "unknown token")
        response = web.json_response({"voter": voters[token]})
        response.set_cookie(COOKIE, token, max_age=30 * 86400, httponly=True, samesite="Strict")
        return response

    async def _turn(self, request: web.Request) -> web.StreamResponse:
        arena = request.app[ARENA_KEY]
        voter = self._voter(request)
        if voter is None:
            return _error(401, "log in with your token" if self.config.arena.voters else "reload the page")
        try:
            body = await self._body(request, ("battle_id", "prompt"))
            battle = await arena.prompt(voter, body["battle_id"], body["prompt"])
        except Refused as exc:
            return _error(exc.status, exc.message, exc.retry_after)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        first = {
            "battle_id": battle.battle_id,
            "turn": len(battle.turns) + 1,
            "max_turns": arena.settings.max_turns,
        }
        streamed = False  # once answer() has run, its own cleanup releases the battle
        texts = {"a": "", "b": ""}
        try:
            async with contextlib.aclosing(arena.answer(battle, body["prompt"])) as events:
                await response.prepare(request)
                await response.write(_event("battle", first))
                streamed = True
                async for name, data in events:
                    if name == "delta":
                        texts[data["side"]] += data["text"]
                    elif name == "done":  # the finished reply, rendered once, replaces the streamed text
                        html = await asyncio.to_thread(to_html, texts[data["side"]])  # off the event loop
                        data = {**data, "html": html}
                    await response.write(_event(name, data))
            await response.write_eof()
        except ConnectionResetError:
            pass  # the page went away; answer() dropped the unfinished turn
        finally:
            if not streamed:
                arena.release(battle)  # the page left before the answer even started
        return response

    async def _vote(self, request: web.Request) -> web.StreamResponse:
        arena = request.app[ARENA_KEY]
        voter = self._voter(request)
        if voter is None:
            return _error(401, "log in with your token" if self.config.arena.voters else "reload the page")
        try:
            body = await self._body(request, ("battle_id", "choice"))
            reveal = await arena.vote(voter, body["battle_id"], body["choice"])
        except Refused as exc:
            return _error(exc.status, exc.message)
        return web.json_response({"reveal": reveal})

    async def _board(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(request.app[KEEPER_KEY].snapshot())

    async def _export(self, request: web.Request) -> web.StreamResponse:
        records = await asyncio.to_thread(export_records, self.out_dir)
        return web.json_response(
            records, headers={"Content-Disposition": f'attachment; filename="{CLEAN_BATTLE_FILE}"'}
        )


def export_records(out_dir: Path) -> list[dict[str, Any]]:
    """Every voted battle in Chatbot Arena's clean_battle shape, oldest first."""
    with Store.open(out_dir / DB_NAME) as store:
        return [clean_battle(row) for _, row in store.arena_battles("voted")]


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Server"] = "judge-arena"
