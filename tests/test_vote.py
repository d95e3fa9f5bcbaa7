"""`judge vote`: battle order, what a vote records, and the HTTP server's refusals, on a real loopback server.

The run directory is hand-made so that no answer or question mentions a model name: then "the page never
saw a name before the vote" is a plain substring check.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge import api
from judge.battles import load_battles
from judge.cli import cli
from judge.errors import InputError
from judge.report.rundir import load_run_dir
from judge.store import DB_NAME, Store
from judge.vote import VOTES_FILE, VoteServer, VoteSession, is_loopback
from judge.vote import server as server_module
from judge.vote.core import Shown, candidates, canonical_winner, queue
from tests.test_answer_html import assert_allowlisted

MODELS = ("model-kilo", "model-lima", "model-mike")
HOSTILE = (
    '<script>document.body.dataset.pwned="script"</script></textarea></script>'
    '<img src=x onerror="document.body.dataset.pwned=\'img\'"><b>bold?</b> & "quotes"'
)
# q1's answers in the hostile run: markdown to render, with hostile links, an image and raw HTML among it
MARKDOWN = (
    "## Plan\n\n1. first *step*\n2. second **step**\n\n- a ~~struck~~ item\n\n"
    "```python\ndef f(x):\n    return  x   # two spaces, then three\n```\n\n"
    "| name | score |\n|:-----|------:|\n| alpha | 1 |\n\n"
    "[docs](https://example.org/docs) [evil](javascript:document.body.dataset.pwned='link') "
    "[data](data:text/html;base64,PHNjcmlwdD4=) <javascript:alert(1)>\n\n"
    "![pixel](https://tracker.example/pixel.png)\n\n"
    '<iframe src="https://evil.example/"></iframe>\n\n'
    "<img src=x onerror=\"document.body.dataset.pwned='img2'\">"
)
REFERENCE = "The answer is **42**.\n\n```\nx = 42\n```\n<script>document.body.dataset.pwned='ref'</script>"


def write_vote_dir(root: Path, *, hostile: bool = False) -> Path:
    """Three models, four questions (q3 judged on turn 2): 12 battles, the 3 of q0 judged inconsistent."""
    root.mkdir(parents=True)
    details, battles = [], []
    for q in range(4):
        turns = 2 if q == 3 else 1
        category = "writing" if q % 2 == 0 else "math"
        for i, a in enumerate(MODELS):
            for b in MODELS[i + 1 :]:
                close = q == 0
                # close: both orders prefer the answer shown first, so re-oriented they disagree
                verdicts = ("A_BETTER", "A_BETTER") if close else ("A_BETTER", "B_BETTER")
                winner = "tie" if close else "model_a"

                def texts(model: str, q: int = q, turns: int = turns) -> list[str]:
                    if hostile and q == 0:
                        return [f"{HOSTILE} #{MODELS.index(model)}"]
                    if hostile and q == 1:
                        return [f"{MARKDOWN}\n\nAnswer {MODELS.index(model)}."]
                    return [f"Answer {MODELS.index(model)} to q{q}, turn {t}." for t in range(1, turns + 1)]

                details.append(
                    {
                        "question_id": f"q{q}",
                        "category": category,
                        "turn": turns,
                        "question": [f"Question {q}, turn {t}?" for t in range(1, turns + 1)],
                        "model_a": a,
                        "model_b": b,
                        "answer_a": texts(a),
                        "answer_b": texts(b),
                        "judgments": [
                            {"order": "ab", "raw": "...", "verdict": verdicts[0]},
                            {"order": "ba", "raw": "...", "verdict": verdicts[1]},
                        ],
                        "winner": winner,
                        **({"reference": [REFERENCE]} if q == 1 else {}),
                    }
                )
                battles.append(
                    {
                        "question_id": f"q{q}",
                        "model_a": a,
                        "model_b": b,
                        "winner": winner,
                        "judge": "tiny-judge",
                        "source": "judge",
                        "category": category,
                        "turn": turns,
                    }
                )
    (root / "details.jsonl").write_text("".join(json.dumps(d) + "\n" for d in details), encoding="utf-8")
    (root / "battles.jsonl").write_text("".join(json.dumps(b) + "\n" for b in battles), encoding="utf-8")
    board = api.rate_json(api.rate(root / "battles.jsonl", bootstrap=5))
    (root / "leaderboard.json").write_text(json.dumps(board), encoding="utf-8")
    return root


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_vote_dir(tmp_path / "run", hostile=True)


@pytest.fixture
def server(run_dir: Path) -> Iterator[VoteServer]:
    with api.vote_server(run_dir, port=0, voter="ann", seed=3) as srv:
        yield srv.start()


def request(server: VoteServer, path: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request; POST when a body is given."""
    method = headers.pop("method", "POST" if body is not None else "GET")
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(server.url.rstrip("/") + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, raw, kind = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers["Content-Type"]
        exc.close()
    text = raw.decode()
    return status, json.loads(text) if kind.startswith("application/json") else text


def cast(server: VoteServer, token: str, choice: str) -> tuple[int, Any]:
    return request(server, "/api/vote", json.dumps({"token": token, "choice": choice}).encode())


# --- the pure core ---


def test_candidates_mark_close_and_inconsistent_battles(run_dir: Path) -> None:
    battles = candidates(load_run_dir(run_dir).details)
    assert len(battles) == 12
    assert {b.question_id for b in battles if b.close} == {"q0"}
    assert sum(b.close for b in battles) == 3
    multi = [b for b in battles if b.question_id == "q3"]
    assert all(b.turn == 2 and len(b.question) == 2 and len(b.answer_a) == 2 for b in multi)


def test_close_first_then_the_rest_and_random_is_a_permutation(run_dir: Path) -> None:
    battles = candidates(load_run_dir(run_dir).details)
    ordered = queue(battles, "close-first", random.Random(1))
    assert [b.close for b in ordered] == [True] * 3 + [False] * 9
    shuffled = queue(battles, "random", random.Random(1))
    assert sorted(b.key for b in shuffled) == sorted(b.key for b in battles)
    with pytest.raises(InputError, match="unknown order 'best'"):
        queue(battles, "best", random.Random(1))


def test_a_click_maps_to_the_canonical_winner(run_dir: Path) -> None:
    battle = candidates(load_run_dir(run_dir).details)[0]
    a, b = battle.model_a, battle.model_b
    assert canonical_winner("a", a, battle) == "model_a"
    assert canonical_winner("a", b, battle) == "model_b"  # positions swapped: A on the page was model_b
    assert canonical_winner("b", b, battle) == "model_a"
    assert canonical_winner("tie", b, battle) == "tie"
    assert canonical_winner("bothbad", a, battle) == "tie (bothbad)"


def test_session_never_repeats_a_battle_and_records_positions(run_dir: Path) -> None:
    session = VoteSession.open(run_dir, voter="ann", seed=5)
    first = session.next_battle()
    assert first is not None and session.next_battle() == first  # same token until voted (page reloads)
    seen, shown_first = set(), set()
    while (shown := session.next_battle()) is not None:
        assert shown.battle.key not in seen
        seen.add(shown.battle.key)
        shown_first.add(shown.shown_a == shown.battle.model_a)
        session.record(shown.token, "a")
    assert len(seen) == 12 and shown_first == {True, False}  # both placements occur
    with Store.open(run_dir / DB_NAME) as store:
        votes = store.votes("ann")
    assert len(votes) == 12
    assert all(v.winner == ("model_a" if v.shown_a == v.model_a else "model_b") for v in votes)
    # a new session for the same voter has nothing left; another voter starts afresh
    assert VoteSession.open(run_dir, voter="ann").next_battle() is None
    assert VoteSession.open(run_dir, voter="bob").next_battle() is not None


def test_bad_voter_and_empty_run_are_input_errors(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="voter name 'two words'"):
        VoteSession.open(run_dir, voter="two words")
    (run_dir / "details.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no battles to vote on"):
        VoteSession.open(run_dir, voter="ann")
    with pytest.raises(InputError, match="not a results directory"):
        VoteSession.open(tmp_path / "nowhere", voter="ann")


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


# --- the HTTP server ---


def test_page_is_self_contained_and_names_come_only_with_the_reveal(
    server: VoteServer, run_dir: Path
) -> None:
    status, page = request(server, "/")
    assert status == 200 and "<script nonce=" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no external resource
    status, data = request(server, "/api/next")
    assert status == 200 and data["done"] is False and data["total"] == 12
    before = json.dumps(data) + page
    assert not any(model in before for model in MODELS)
    assert data["battle"]["question_id"] == "q0"  # close-first
    status, vote = cast(server, data["battle"]["token"], "b")
    assert status == 200 and vote["voted"] == 1
    assert {vote["reveal"]["a"], vote["reveal"]["b"]} <= set(MODELS)
    assert vote["reveal"]["judge"] == "tie" and vote["reveal"]["close"] is True
    line = json.loads((run_dir / VOTES_FILE).read_text(encoding="utf-8"))
    assert line["source"] == "human" and line["judge"] == "human:ann" and line["question_id"] == "q0"
    assert line["model_a"] < line["model_b"]  # canonical order, winner flipped to match
    assert line["model_a" if line["winner"] == "model_a" else "model_b"] == vote["reveal"]["b"]
    # The style counts of the texts shown travel with the vote (for style control of human boards).
    assert line["tokens_a"] > 0 and line["tokens_b"] > 0 and {"headers_a", "lists_b", "bold_a"} <= set(line)


def test_refusals_are_json_errors_with_4xx(server: VoteServer) -> None:
    _, data = request(server, "/api/next")
    token = data["battle"]["token"]
    assert cast(server, "not-a-token", "a") == (404, {"error": "unknown battle token"})
    status, error = cast(server, token, "A")
    assert status == 400 and "unknown choice 'A'" in error["error"]
    assert cast(server, token, "tie")[0] == 200
    assert cast(server, token, "a") == (409, {"error": "this battle already has your vote"})
    status, error = request(server, "/api/vote", b'{"token": ')
    assert status == 400 and "not valid JSON" in error["error"]
    assert request(server, "/api/vote", b"[1, 2]")[0] == 400
    assert (
        request(server, "/api/vote", json.dumps({"token": token, "choice": "a", "x": 1}).encode())[0] == 400
    )
    assert request(server, "/api/vote", json.dumps({"token": 5, "choice": "a"}).encode())[0] == 400
    assert (
        request(server, "/api/vote", b'{"token": "x", "choice": "a"}', **{"Content-Type": "text/plain"})[0]
        == 415
    )
    assert request(server, "/api/vote", b"x" * 5000)[0] == 413
    assert request(server, "/api/nothing")[0] == 404
    assert request(server, "/api/vote", b"{}", method="PUT")[0] == 405
    assert request(server, "/api/next", Host="evil.example:8765") == (
        421,
        {"error": "this server answers only to localhost"},
    )
    assert request(server, "/api/vote", b"{}", Host="evil.example")[0] == 421
    with Store.open(server.session.run_dir / DB_NAME) as store:
        assert [v.choice for v in store.votes()] == ["tie"]  # only the one accepted vote


def test_hostile_answer_travels_as_data_never_as_markup(server: VoteServer) -> None:
    status, page = request(server, "/")
    assert HOSTILE not in page and "onerror" not in page  # texts never enter the HTML
    _, data = request(server, "/api/next")
    assert data["battle"]["answer_a"][0].startswith(HOSTILE)  # verbatim JSON string, for textContent
    with urllib.request.urlopen(server.url, timeout=30) as response:
        csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp and "unsafe-inline" not in csp


def test_votes_feed_rate_and_validate(server: VoteServer, run_dir: Path) -> None:
    while True:
        _, data = request(server, "/api/next")
        if data["done"]:
            break
        assert cast(server, data["battle"]["token"], "a")[0] == 200
    votes = run_dir / VOTES_FILE
    loaded = load_battles(votes)
    assert len(loaded.frame) == 12 and set(loaded.frame["source"]) == {"human"}
    result = CliRunner().invoke(cli, ["rate", str(votes), "--bootstrap", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert {row["model"] for row in json.loads(result.stdout)["models"]} == set(MODELS)
    report = api.validate([votes], [run_dir / "battles.jsonl"], bootstrap=0)
    assert report.comparison == "judge-human"


def test_cli_serves_until_interrupted_and_warns_off_loopback(run_dir: Path) -> None:
    command = [sys.executable, "-m", "judge", "vote", str(run_dir), "--host", "0.0.0.0", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        warning = proc.stderr.readline()
        ready = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "warning: listening on 0.0.0.0, not loopback" in warning
    assert ready.startswith("voting page: http://0.0.0.0:")
    assert proc.returncode == 0
    assert out.strip() == f"0 vote(s) cast, 0 skipped, 0 tie(s); votes saved to {run_dir / VOTES_FILE}"


def test_cli_bad_input_exits_2(tmp_path: Path, run_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["vote", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2 and "not a results directory" in result.output
    result = CliRunner().invoke(cli, ["vote", str(run_dir), "--port", "0", "--voter", "a b"])
    assert result.exit_code == 2 and "voter name 'a b' is not allowed" in result.output


def test_on_a_real_echo_tournament_close_battles_are_the_judges_ties(tmp_path: Path) -> None:
    config = tmp_path / "echo.yaml"
    config.write_text(
        "name: vote-echo\nquestions: demo\n"
        "contestants:\n  - {name: x, provider: echo}\n  - {name: y, provider: echo, temperature: 0.5}\n"
        "  - {name: z, provider: echo, temperature: 0.7}\n"
        "judge: {provider: echo, model: echo, answer_format: json}\n"
        "retries: {attempts: 2, initial_wait: 0, max_wait: 0, jitter: 0}\n",
        encoding="utf-8",
    )
    out = api.run(config, out=tmp_path / "out", bootstrap=5, write_html=False).out_dir
    judged = load_battles(out / "battles.jsonl").frame
    decided = {
        (r.question_id, r.model_a, r.model_b, r.turn)
        for r in judged.itertuples()
        if r.winner in ("model_a", "model_b")
    }
    session = VoteSession.open(out, voter="ann", seed=0)
    keys = [b.key for b in session.battles]
    n_close = sum(b.close for b in session.battles)
    assert 0 < n_close < len(keys)
    # conservative combining turns any disagreement between the orders into a tie, so close == not decided
    assert set(keys[:n_close]).isdisjoint(decided) and set(keys[n_close:]) == decided
    assert any(b.turn == 2 for b in session.battles)  # demo-2 is judged on its second turn
    # The demo set's reference answers reach details.jsonl and the page, for the turn voted on.
    demo_2 = next(b for b in session.battles if b.question_id == "demo-2" and b.turn == 2)
    assert demo_2.reference == ("12", "10")
    page = Shown("t", demo_2, demo_2.model_a).page()
    assert page["reference"] == "10" and page["reference_html"] == "<p>10</p>\n"
    shown = session.next_battle()
    assert shown is not None
    session.record(shown.token, "bothbad")
    assert load_battles(out / VOTES_FILE).frame["winner"].tolist() == ["tie (bothbad)"]


# --- hardening: bursts, stalled clients, hostile bodies, other methods, hang-ups ---


def raw_exchange(server: VoteServer, data: bytes, timeout: float = 30) -> bytes:
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_two_hundred_simultaneous_clients_are_all_served(server: VoteServer) -> None:
    # With the default listen backlog of 5, about half of such a burst timed out.
    start = threading.Barrier(200)

    def one(_: int) -> int:
        start.wait()
        return request(server, "/api/next")[0]

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [200] * 200


def test_stalled_half_sent_requests_are_closed(server: VoteServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    host, port = server.server_address[:2]
    socks = [socket.create_connection((host, port), timeout=30) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"POST /api/vote HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n")
        assert all(sock.recv(100) == b"" for sock in socks)  # closed by the server, not left holding a thread
    finally:
        for sock in socks:
            sock.close()
    assert request(server, "/api/next")[0] == 200


def test_deeply_nested_or_non_json_bodies_get_a_json_400(server: VoteServer) -> None:
    # A deep body used to kill the handler thread with no reply at all.
    for body in (b"[" * 2000 + b"]" * 2000, b'{"token": {"a": [[[[[[[[[1]]]]]]]]]}, "choice": "a"}', b"NaN"):
        status, reply = request(server, "/api/vote", body)
        assert status == 400 and "error" in reply, (body[:20], reply)
    assert request(server, "/api/next")[0] == 200  # the server is still fine


def test_other_methods_get_a_json_405(server: VoteServer) -> None:
    for method in ("OPTIONS", "PUT", "DELETE", "FOO"):
        status, reply = request(server, "/", method=method)
        assert (status, reply) == (405, {"error": "method not allowed"}), method
    head = raw_exchange(server, b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 405 ") and b"Allow: GET, POST" in head and head.endswith(b"\r\n\r\n")
    bad = raw_exchange(server, b"NONSENSE\r\n\r\n")
    assert bad.startswith(b'{"error": "Bad request syntax')  # an HTTP/0.9-style line gets a bare body


def test_clients_that_hang_up_leave_no_traceback(
    server: VoteServer, capfd: pytest.CaptureFixture[str]
) -> None:
    host, port = server.server_address[:2]
    for _ in range(20):
        sock = socket.create_connection((host, port), timeout=30)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, unread
        sock.close()
    for _ in range(5):
        sock = socket.create_connection((host, port), timeout=30)
        sock.sendall(b'POST /api/vote HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
                     b"Content-Length: 50\r\n\r\n{")  # fmt: skip
        sock.close()
    assert request(server, "/api/next")[0] == 200
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err


# --- markdown, the reference answer, skips and the session summary ---


def battle_on(session: VoteSession, question_id: str) -> Shown:
    """Skip through the queue to the first battle on `question_id`."""
    while (shown := session.next_battle()) is not None:
        if shown.battle.question_id == question_id:
            return shown
        session.skip(shown.token)
    raise AssertionError(f"no battle on {question_id}")


def test_the_page_gets_answers_as_rendered_markdown_with_hostile_parts_as_text(run_dir: Path) -> None:
    first = VoteSession.open(run_dir, voter="ann", seed=2).next_battle()
    assert first is not None and first.battle.question_id == "q0"
    page = first.page()
    assert page["question_html"] == ["<p>Question 0, turn 1?</p>\n"] and page["reference"] is None
    for html in page["answer_a_html"] + page["answer_b_html"]:
        assert_allowlisted(html)
        assert "&lt;script&gt;document.body.dataset.pwned" in html and "<script" not in html
        assert "&lt;img src=x onerror=" in html and "&lt;b&gt;bold?&lt;/b&gt;" in html

    page = battle_on(VoteSession.open(run_dir, voter="ann", seed=2), "q1").page()
    html = page["answer_a_html"][0]
    assert page["answer_a"][0].startswith(MARKDOWN)  # the raw text travels too (style counts, copying)
    assert_allowlisted(html)
    assert (
        "<h2>Plan</h2>" in html and "<ol>\n<li>first <em>step</em></li>" in html and "<s>struck</s>" in html
    )
    assert '<pre><code class="language-python">def f(x):\n    return  x   # two spaces, then three\n' in html
    assert '<th class="align-right">score</th>' in html and '<td class="align-left">alpha</td>' in html
    assert '<a href="https://example.org/docs">docs</a>' in html
    assert html.count("<a ") == 2  # docs and the image's link; javascript:, data: and the autolink stay text
    assert "[evil](javascript:" in html and "&lt;javascript:alert(1)&gt;" in html
    assert '<a class="image" href="https://tracker.example/pixel.png">[image: pixel]</a>' in html
    assert "&lt;iframe" in html and "<iframe" not in html and "<img" not in html


def test_the_reference_answer_comes_with_the_battle(run_dir: Path) -> None:
    page = battle_on(VoteSession.open(run_dir, voter="ann", seed=2), "q1").page()
    assert page["reference"] == REFERENCE
    html = page["reference_html"]
    assert_allowlisted(html)
    assert "<strong>42</strong>" in html and "<pre><code>x = 42\n</code></pre>" in html
    assert "&lt;script&gt;" in html and "<script" not in html


def pick(shown: Shown, canonical: str) -> str:
    """The button for `canonical` ("model_a" / "model_b") where the page shows `shown`."""
    return "a" if (shown.shown_a == shown.battle.model_a) == (canonical == "model_a") else "b"


def test_session_summary_counts_a_scripted_session(server: VoteServer, run_dir: Path) -> None:
    # The judge called q0's three battles ties and gave every other battle to model_a (write_vote_dir).
    session = server.session
    script = [
        "tie",  # q0, judge tie: agree
        "model_a",  # q0: disagree, and not decisive (the judge tied)
        "skip",  # q0
        "model_a",  # agree, decisive
        "model_a",  # agree, decisive
        "model_a",  # agree, decisive
        "model_b",  # disagree, decisive
        "bothbad",  # a tie for the voter: disagree, not decisive
    ]
    for step, action in enumerate(script):
        status, data = request(server, "/api/next")
        shown = session.next_battle()
        assert shown is not None and data["battle"]["token"] == shown.token
        assert (shown.battle.question_id == "q0") == (step < 3)
        if action == "skip":
            status, reply = request(server, "/api/skip", json.dumps({"token": shown.token}).encode())
            assert status == 200 and reply["skipped"] == 1 and reply["voted"] == 2
            continue
        choice = action if action in ("tie", "bothbad") else pick(shown, action)
        status, reply = cast(server, shown.token, choice)
        assert status == 200
        assert reply["summary"]["session"]["votes"] == step + (0 if step < 2 else -1) + 1

    expected = {
        "session": {"votes": 7, "ties": 2, "judged": 7, "agreed": 4, "decisive": 4, "decisive_agreed": 3,
                    "skipped": 1},
        "overall": {"votes": 7, "ties": 2, "judged": 7, "agreed": 4, "decisive": 4, "decisive_agreed": 3},
        "remaining": 5,
        "votes_file": str(run_dir / VOTES_FILE),
    }  # fmt: skip
    status, data = request(server, "/api/summary")
    assert status == 200 and data["summary"] == expected and data["voted"] == 7
    assert session.summary().sentence() == (
        "7 vote(s) cast, 1 skipped, 2 tie(s); agreed with the judge on 4 of 7 it decided (57%), "
        f"3 of 4 where both picked a winner (75%); votes saved to {run_dir / VOTES_FILE}"
    )
    assert len((run_dir / VOTES_FILE).read_text(encoding="utf-8").splitlines()) == 7

    # The rest, all "a": then the session is done and the summary comes with "done"; the skipped q0 battle
    # is the one left, and a later session offers it again.
    while not (data := request(server, "/api/next")[1])["done"]:
        assert data["battle"]["question_id"] != "q0"
        assert cast(server, data["battle"]["token"], "a")[0] == 200
    assert data["summary"]["session"]["votes"] == 11 and data["summary"]["session"]["skipped"] == 1
    assert data["summary"]["remaining"] == 1 and data["voted"] == 11
    later = VoteSession.open(run_dir, voter="ann", seed=3)
    again = later.next_battle()
    assert again is not None and again.battle.question_id == "q0"
    summary = later.summary()
    assert summary.session.votes == 0 and summary.overall.votes == 11 and summary.remaining == 1
    assert summary.sentence().startswith(
        "0 vote(s) cast, 0 skipped, 0 tie(s); all 11 of your votes on this run:"
    )


def test_skip_refusals_are_json_errors(server: VoteServer) -> None:
    _, data = request(server, "/api/next")
    token = data["battle"]["token"]
    skip = "/api/skip"
    assert request(server, skip, json.dumps({"token": "nope"}).encode()) == (
        404,
        {"error": "unknown battle token"},
    )
    status, error = request(server, skip, json.dumps({"token": token, "choice": "a"}).encode())
    assert status == 400 and error["error"] == 'expected a JSON object {"token": ...}'
    assert request(server, skip, json.dumps({"token": 7}).encode())[0] == 400
    assert request(server, skip, b'{"token": "x"}', **{"Content-Type": "text/plain"})[0] == 415
    assert cast(server, token, "a")[0] == 200
    assert request(server, skip, json.dumps({"token": token}).encode()) == (
        409,
        {"error": "this battle already has your vote"},
    )
    status, data = request(server, "/api/summary")
    assert status == 200 and data["summary"]["session"] == {
        "votes": 1, "ties": 0, "judged": 1, "agreed": 0, "decisive": 0, "decisive_agreed": 0, "skipped": 0
    }  # fmt: skip
