"""API keys never reach the store, the terminal, the report or the vote page, even when servers echo them."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from click.testing import CliRunner

from judge import api
from judge.cli import cli
from judge.redaction import MASK, Redactor
from tests.fault_server import FaultServer, Step

OPENAI_KEY = "sk-proj-Zx81KqvN3mT0pLr5sWc9Yb2Hd7"
ANTHROPIC_KEY = "sk-ant-api03-Qw4Er6Ty8Ui0Op2As4Df6Gh8Jk"
PLAIN_KEY = "plainsecretvalue42"  # not key-shaped: only the value itself can catch it


def test_redactor_masks_values_and_key_shaped_text():
    redact = Redactor.from_env({"MY_SERVER_TOKEN": PLAIN_KEY, "HOME": "/root", "SHORT_KEY": "k"})
    text = (
        f"Incorrect API key provided: {OPENAI_KEY}. token {PLAIN_KEY}; "
        "Authorization: Bearer abcdefgh12345678; x-api-key: zzzzzzzzzz; {'api_key': 'qqqqqqqqqq'}; "
        "model gpt-4o at /root is fine; risk-adjusted a1:0f3e"
    )
    clean = redact(text)
    for secret in (OPENAI_KEY, PLAIN_KEY, "abcdefgh12345678", "zzzzzzzzzz", "qqqqqqqqqq"):
        assert secret not in clean
    assert "Bearer [redacted]" in clean and "x-api-key: [redacted]" in clean
    assert "gpt-4o at /root is fine; risk-adjusted a1:0f3e" in clean  # ordinary words survive
    assert Redactor.of(["k", None])("a key k") == "a key k"  # too short to be a real key


def test_keys_echoed_by_servers_through_both_sdks_are_nowhere(tmp_path: Path):
    env = {"LEAKY_OPENAI_KEY": OPENAI_KEY, "LEAKY_ANTHROPIC_KEY": ANTHROPIC_KEY, "OTHER_TOKEN": PLAIN_KEY}
    with FaultServer() as server:
        server.script(*[Step.echo_key(401) for _ in range(4)])
        config = tmp_path / "t.yaml"
        config.write_text(
            "name: t\nquestions: {path: mt_bench, limit: 2, turns: 1}\ncontestants:\n"
            "  - {name: echo-a, provider: echo}\n  - {name: echo-b, provider: echo, temperature: 0.5}\n"
            f'  - {{name: oa, provider: openai, model: m, base_url: "{server.openai_url}", '
            "api_key_env: LEAKY_OPENAI_KEY}\n"
            f'  - {{name: an, provider: anthropic, model: m, base_url: "{server.anthropic_url}", '
            "api_key_env: LEAKY_ANTHROPIC_KEY}\n"
            "judge: {provider: echo, answer_format: json}\n"
            "retries: {attempts: 1, initial_wait: 0, max_wait: 0, jitter: 0}\n"
        )
        out = tmp_path / "out"
        result = CliRunner(env=env).invoke(cli, ["run", str(config), "--out", str(out), "--bootstrap", "20"])
        assert server.count == 4  # the leaky server really answered both SDKs, twice each
        sent = {{k.lower(): v for k, v in r.headers.items()}["authorization"] for r in server.requests}
        assert sent == {f"Bearer {OPENAI_KEY}", f"Bearer {ANTHROPIC_KEY}"}
    assert result.exit_code == 5, result.output  # two contestants without answers
    assert "failed: oa question" in result.stdout and "failed: an question" in result.stdout
    assert "Incorrect API key provided: [redacted]" in result.stdout

    with api.vote_server(out, port=0, voter="ann", seed=1) as vote:
        vote.start()
        pages = [urllib.request.urlopen(vote.url + path, timeout=30).read() for path in ("", "api/next")]
    every_byte = [result.stdout.encode(), result.stderr.encode(), *pages]
    every_byte += [
        p.read_bytes() for p in out.rglob("*") if p.is_file()
    ]  # judge.sqlite, -wal, report.html...
    assert (out / "report.html").exists() and (out / "judge.sqlite").exists()
    for key in (OPENAI_KEY, ANTHROPIC_KEY, OPENAI_KEY[8:], ANTHROPIC_KEY[8:]):
        assert not any(key.encode() in blob for blob in every_byte), key
    assert any(MASK.encode() in blob for blob in every_byte if blob.startswith(b"SQLite"))
