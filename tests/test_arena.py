"""`judge arena` over HTTP on a real loopback server with echo contestants: battles, votes, refusals, restart.

The contestants' model ids differ from their names, so "no name before the vote" is a substring check.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge import api
from judge.arena.server import ArenaServer
from judge.battles import load_battles
from judge.cli import cli
from judge.store import DB_NAME, Store
from tests.arena_client import Client

NAMES = ("model-kilo", "model-lima", "model-mike")
CONFIG = """\
name: arena-test
questions: demo
seed: 3
contestants:
  - {name: model-kilo, provider: echo, model: x1, delay: DELAY}
  - {name: model-lima, provider: echo, model: x2, delay: DELAY}
  - {name: model-mike, provider: echo, model: x3, delay: DELAY}
arena:
  prompts_per_minute: 100
  max_prompt_chars: 200
  max_turns: 3
  bootstrap: 20
"""


def write_config(root: Path, extra: str = "", delay: float = 0.0, config: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "arena.yaml"
    path.write_text(config.replace("DELAY", str(delay)) + extra)
    return path


def serve(config: Path, out: Path, **kwargs) -> ArenaServer:
    server = api.arena_server(config, out=out, port=0, seed=1, **kwargs)
    server.min_interval = 0.05
    return server.start()


@pytest.fixture
def arena(tmp_path: Path) -> Iterator[ArenaServer]:
    with serve(write_config(tmp_path, delay=0.1), tmp_path / "out") as server:  # pieces 10 ms apart
        yield server


def browser(server: ArenaServer) -> Client:
    client = Client(server.url)
    assert client.page().status == 200
    return client


def test_a_battle_streams_both_sides_goes_on_a_second_turn_and_reveals_names_only_on_the_vote(
    arena: ArenaServer,
) -> None:
    client = browser(arena)
    first = client.turn("Bonjour, pouvez-vous m'expliquer la photosynthèse en deux phrases ?")
    assert first.status == 200, first.body
    names = [name for name, _ in first.events]
    assert names[0] == "battle" and names[-1] == "end" and names.count("done") == 2
    assert names.count("delta") > 2  # word by word, not one piece
    battle_id = first.event("battle")["battle_id"]
    assert first.text("a").startswith("echo") and first.text("b").startswith("echo")
    assert first.event("end") == {"void": False, "turns": 1, "more": True}
    second = client.turn("Et en une phrase ?", battle_id)
    assert second.status == 200 and second.event("end")["turns"] == 2
    assert "answer 3" in second.text("a")  # the second turn carried the first (user, assistant, user)
    seen = json.dumps([first.events, second.events])
    assert not any(name in seen for name in NAMES)

    voted = client.vote(battle_id, "a")
    assert voted.status == 200
    reveal = voted.body["reveal"]
    assert {reveal["a"], reveal["b"]} <= set(NAMES) and reveal["a"] != reveal["b"]

    with Store.open(arena.out_dir / DB_NAME) as store:
        [(_, row)] = store.arena_battles()
    assert row.status == "voted" and row.turns == 2 and row.shown_a == reveal["a"]
    assert row.winner == ("model_a" if row.shown_a == row.model_a else "model_b")
    assert row.voter.startswith("anon-") and row.language == "fr" and row.category == "user"
    turns = json.loads(row.conversation)
    assert [t["user"] for t in turns] == [
        "Bonjour, pouvez-vous m'expliquer la photosynthèse en deux phrases ?",
        "Et en une phrase ?",
    ]
    shown_a_text = turns[0]["model_a"] if row.shown_a == row.model_a else turns[0]["model_b"]
    assert shown_a_text == first.text("a")

    [line] = (arena.out_dir / "arena_battles.jsonl").read_text().splitlines()
    logged = json.loads(line)
    assert logged["source"] == "human" and logged["judge"] == f"human:{row.voter}" and logged["turn"] == 2
    assert logged["language"] == "fr" and logged["question_id"] == row.question_id

    board = arena.keeper.wait_for(1)
    assert board["votes"] == 1 and board["by_language"] == [{"key": "fr", "votes": 1}]


def test_votes_agree_with_judge_rate_and_the_clean_battle_export_reads_as_an_arena_dump(
    arena: ArenaServer, tmp_path: Path
) -> None:
    choices = ["a", "b", "tie", "bothbad", "a", "a", "b", "a"]
    for i, choice in enumerate(choices):
        client = browser(arena)  # a new browser each time: a new anonymous voter
        reply = client.turn(f"Question number {i % 3}: what is a prime number?")
        assert client.vote(reply.event("battle")["battle_id"], choice).status == 200
    board = arena.keeper.wait_for(len(choices))
    assert board["ready"] and board["cluster"] == "question"  # three prompts, each repeated
    result = CliRunner().invoke(
        cli, ["rate", str(arena.out_dir / "arena_battles.jsonl"), "--bootstrap", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    rated = {row["model"]: row["rating"] for row in json.loads(result.stdout)["models"]}
    assert {row["model"]: row["rating"] for row in board["bt"]} == pytest.approx(rated, abs=1e-3)

    export = tmp_path / "clean.json"
    result = CliRunner().invoke(
        cli, ["arena", str(arena.config.path), "--out", str(arena.out_dir), "--export", str(export)]
    )
    assert result.exit_code == 0 and "8 vote(s)" in result.output
    records = json.loads(export.read_text())
    assert {
        "question_id",
        "model_a",
        "model_b",
        "winner",
        "judge",
        "turn",
        "anony",
        "language",
        "tstamp",
        "conv_metadata",
        "dedup_tag",
    } <= set(records[0])
    loaded = load_battles(export)
    assert loaded.files[0].format == "arena" and len(loaded.frame) == len(choices)
    assert list(loaded.frame["winner"]) == [r["winner"] for r in records]
    web = browser(arena).request("/api/export")
    assert web.status == 200 and len(web.body) == len(choices)


def test_refusals(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  open_battles: 1\n", config=CONFIG.replace("100", "5"))
    with serve(config, tmp_path / "out") as server:
        alice, mallory = browser(server), browser(server)
        too_long = alice.turn("x" * 201)
        assert too_long.status == 413 and "limit is 200" in too_long.body["error"]
        assert alice.turn("   ").status == 400
        battle = alice.turn("Hello there").event("battle")["battle_id"]
        # another voter cannot continue, vote on, or even see someone else's battle
        assert mallory.vote(battle, "a").status == 404
        assert mallory.turn("hi", battle).status == 404
        assert alice.vote(battle, "maybe").status == 400
        assert alice.vote(battle, "b").status == 200
        again = alice.vote(battle, "a")
        assert again.status == 409 and "already" in again.body["error"]
        assert alice.turn("more?", battle).status == 409  # a voted battle takes no further turn
        # no cookie: not a voter; a cross-site form post: wrong content type; DNS rebinding: foreign host
        assert Client(server.url).turn("hi").status == 401
        assert (
            alice.request(
                "/api/vote", b"battle_id=x&choice=a", content_type="application/x-www-form-urlencoded"
            ).status
            == 415
        )
        assert alice.request("/api/board", headers={"Host": "evil.example:80"}).status == 421
        assert alice.request("/api/turn", b"{not json").status == 400
        # 5 prompts a minute: alice used 1 (the refused ones never counted), 4 more pass, the next waits
        for i in range(4):
            assert alice.turn(f"prompt {i}").status == 200
        limited = alice.turn("one too many")
        assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
        assert mallory.turn("mallory has her own budget").status == 200


def test_the_turn_limit_and_the_security_headers(arena: ArenaServer) -> None:
    client = browser(arena)
    page = client.page()
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    cookie = page.headers.get("Set-Cookie") or ""
    assert cookie == "" or ("HttpOnly" in cookie and "SameSite=Strict" in cookie)
    battle = client.turn("one").event("battle")["battle_id"]
    client.turn("two", battle)
    third = client.turn("three", battle)
    assert third.event("end") == {"void": False, "turns": 3, "more": False}
    fourth = client.turn("four", battle)
    assert fourth.status == 409 and "at most 3 turns" in fourth.body["error"]


def test_a_battle_being_answered_counts_against_the_open_battle_cap(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  open_battles: 1\n", delay=1.5)
    with serve(config, tmp_path / "out") as server:
        client = browser(server)
        slow: list = []
        worker = threading.Thread(target=lambda: slow.append(client.turn("slow one")))
        worker.start()
        time.sleep(0.5)
        busy = client.turn("a second battle at once")
        worker.join()
        assert busy.status == 429 and "still being answered" in busy.body["error"]
        assert slow[0].status == 200
        # once answered, the idle unvoted battle gives way to a new one
        fresh = client.turn("now a new battle")
        assert fresh.status == 200
        assert client.vote(slow[0].event("battle")["battle_id"], "a").status == 404


def test_a_provider_error_voids_the_battle_and_is_never_a_loss(tmp_path: Path) -> None:
    broken = CONFIG.replace(
        "  - {name: model-mike, provider: echo, model: x3, delay: DELAY}",
        "  - {name: model-mike, provider: openai, model: x3, base_url: 'http://127.0.0.1:9/v1', timeout: 5}",
    ).replace("  - {name: model-kilo, provider: echo, model: x1, delay: DELAY}\n", "")
    with serve(write_config(tmp_path, config=broken), tmp_path / "out") as server:
        client = browser(server)
        reply = client.turn("Hello?")
        assert reply.status == 200
        errors = [d for n, d in reply.events if n == "error"]
        assert len(errors) == 1 and "connection failed" in errors[0]["message"]
        assert reply.event("end")["void"] is True
        battle = reply.event("battle")["battle_id"]
        refused = client.vote(battle, "a")
        assert refused.status == 409 and "void" in refused.body["error"]
        with Store.open(server.out_dir / DB_NAME) as store:
            assert store.arena_battles() == []
            [(_, void)] = store.arena_battles("void")
        assert void.winner is None and "model-mike" in (void.error or "")
        assert (server.out_dir / "arena_battles.jsonl").read_text() == ""


def test_a_restart_resumes_with_every_vote_and_rebuilds_the_battle_log(tmp_path: Path) -> None:
    config, out = write_config(tmp_path), tmp_path / "out"
    with serve(config, out) as server:
        client = browser(server)
        for i in range(3):
            battle = client.turn(f"prompt {i}").event("battle")["battle_id"]
            assert client.vote(battle, "tie").status == 200
        unvoted = client.turn("never voted").event("battle")["battle_id"]
    (out / "arena_battles.jsonl").unlink()  # as if the process died between the store and the log
    with serve(config, out) as server:
        client.url = server.url.rstrip("/")
        assert server.votes_at_start == 3
        assert len((out / "arena_battles.jsonl").read_text().splitlines()) == 3
        assert server.keeper.wait_for(3)["votes"] == 3
        assert client.vote(unvoted, "a").status == 404  # the unvoted battle is the only thing lost
        battle = client.turn("after the restart").event("battle")["battle_id"]
        assert client.vote(battle, "a").status == 200  # the same browser is the same voter
    with Store.open(out / DB_NAME) as store:
        assert len({row.voter for _, row in store.arena_battles()}) == 1


def test_tokens_and_the_moderation_hook(tmp_path: Path) -> None:
    (tmp_path / "voters.txt").write_text(
        "# name:token\nada:ada-token-0123456789\n\nbob:bob-token-0123456789\n"
    )
    hook = tmp_path / "moderate.py"
    hook.write_text(
        "import sys\nif 'forbidden' in sys.stdin.read():\n    print('not here')\n    sys.exit(1)\n"
    )
    extra = f"  voters: voters.txt\n  moderation: {{command: '{sys.executable} {hook}'}}\n"
    with serve(write_config(tmp_path, extra), tmp_path / "out") as server:
        client = browser(server)
        assert client.turn("hi").status == 401
        assert client.request("/api/login", {"token": "wrong-token-0123456789"}).status == 403
        assert client.request("/api/login", {"token": "ada-token-0123456789"}).body == {"voter": "ada"}
        refused = client.turn("a forbidden prompt")
        assert refused.status == 422 and refused.body["error"] == "not here"
        battle = client.turn("an allowed prompt").event("battle")["battle_id"]
        assert client.vote(battle, "b").status == 200
        with Store.open(server.out_dir / DB_NAME) as store:
            [(_, row)] = store.arena_battles()
        assert row.voter == "ada"


def test_a_moderation_endpoint_refuses_before_any_contestant_is_asked(tmp_path: Path) -> None:
    from tests.fault_server import FaultServer

    with FaultServer() as fault:
        extra = f"  moderation: {{url: '{fault.openai_url}', model: omni-moderation-latest}}\n"
        with serve(write_config(tmp_path, extra), tmp_path / "out") as server:
            client = browser(server)
            refused = client.turn("something forbidden")
            assert refused.status == 422 and "violence" in refused.body["error"]
            assert client.turn("something fine").status == 200
        assert [r.path for r in fault.requests] == ["/v1/moderations", "/v1/moderations"]
        assert fault.requests[0].body["model"] == "omni-moderation-latest"


def test_the_command_line_serves_until_interrupted_and_reports_bad_configs(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    config, out = write_config(tmp_path), tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "judge", "arena", str(config), "--port", "0", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("judge arena: http://127.0.0.1:") and "0 votes so far" in line
        client = Client(line.split()[2])
        client.page()
        battle = client.turn("hello").event("battle")["battle_id"]
        assert client.vote(battle, "tie").status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "arena_battles.jsonl" in stdout and "Traceback" not in stderr
    bad = CliRunner().invoke(cli, ["arena", str(write_config(tmp_path, "  sampler: clever\n"))])
    assert bad.exit_code == 2 and "arena.sampler" in bad.output


def test_a_key_a_server_echoes_never_reaches_the_page_or_the_store(tmp_path: Path) -> None:
    from tests.fault_server import FaultServer, Step

    key = "sk-arena-secret-0123456789"
    with FaultServer() as fault:
        fault.script(Step.error(401, f"Incorrect API key provided: {key}"))
        config = CONFIG.replace(
            "  - {name: model-mike, provider: echo, model: x3, delay: DELAY}",
            f"  - {{name: model-mike, provider: openai, model: x3, base_url: '{fault.openai_url}',"
            " api_key_env: ARENA_TEST_KEY}",
        ).replace("  - {name: model-kilo, provider: echo, model: x1, delay: DELAY}\n", "")
        server = api.arena_server(
            write_config(tmp_path, config=config), out=tmp_path / "out", port=0, env={"ARENA_TEST_KEY": key}
        )
        with server:
            server.start()
            client = browser(server)
            reply = client.turn("hello")
            assert reply.event("end")["void"] is True
            assert key not in json.dumps(reply.events) and "[redacted]" in json.dumps(reply.events)
        with Store.open(server.out_dir / DB_NAME) as store:
            [(_, void)] = store.arena_battles("void")
        assert key not in (void.error or "") and "auth" in (void.error or "")


def test_a_page_that_leaves_mid_answer_frees_its_battle(tmp_path: Path) -> None:
    import http.client
    from urllib.parse import urlparse

    config = write_config(tmp_path, "  open_battles: 1\n", delay=2.0)
    with serve(config, tmp_path / "out") as server:
        client = browser(server)
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
        where = urlparse(server.url)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        body = json.dumps({"battle_id": None, "prompt": "a long answer please"})
        conn.request("POST", "/api/turn", body, {"Content-Type": "application/json", "Cookie": cookie})
        response = conn.getresponse()
        assert response.status == 200 and b"event: battle" in response.read1(4096)
        conn.sock.close()  # the tab is closed while both models are still answering
        conn.close()
        deadline = time.monotonic() + 20
        while server.arena._battles and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.arena._battles == {}  # the unfinished battle is gone, nothing was stored
        assert client.turn("a new battle").status == 200  # and it no longer holds the voter's only slot
        with Store.open(server.out_dir / DB_NAME) as store:
            assert store.arena_battles(None) == []
