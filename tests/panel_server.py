"""A real OpenAI-compatible judge server on loopback whose judges have a known accuracy, for panel tests.

The contestants are echo models named ``q-1``, ``q-2``, ...: an echo answer ends "... to q-3", so the server
reads from the judge prompt which contestant is shown first and which second; the higher number is the better
answer (the truth). A judge model named ``acc-0.80`` names the better answer on a fixed 80% of items (a hash
of the model and the two answers decides, the same in both orders, so the judge is position-consistent),
and the worse one otherwise; ``first`` always names the answer shown first; ``tie`` always calls a tie.
Every reply has a sentence of reasoning, then a verdict line. The server counts requests per model.

    with JudgeServer() as server:
        ... judges: [{provider: openai, base_url: server.openai_url, model: acc-0.80, name: j80}]
        server.calls["acc-0.80"]
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler

from tests.loopback import LoopbackServer, QuietHandler

_SHOWN = re.compile(r"echo [0-9a-f]+: answer \d+ to (q-(\d+))")


def correct(model: str, first: str, second: str) -> bool:
    """Whether judge `model` gets the item with these two answers right (order-free, deterministic)."""
    accuracy = float(model.split("-", 1)[1])
    key = "\0".join([model, *sorted((first, second))]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64 < accuracy


def verdict(model: str, prompt: str) -> str:
    shown = [(m.group(0), int(m.group(2))) for m in _SHOWN.finditer(prompt)]
    if len(shown) < 2:
        return "I cannot see two answers.\nVERDICT: TIE"
    (text_a, a), (text_b, b) = shown[-2], shown[-1]
    if model == "first":
        letter = "A"
    elif model == "tie":
        letter = "TIE"
    else:
        better = "A" if a > b else "B"
        letter = better if correct(model, text_a, text_b) else ("B" if better == "A" else "A")
    who = "A and B read equally" if letter == "TIE" else f"Assistant {letter} <b>reads</b> better"
    return f"{who} to {model}.\nVERDICT: {letter}"


class JudgeServer(LoopbackServer):
    """Serves /v1/chat/completions on 127.0.0.1 with the judges above; use as a context manager."""

    name = "judge-server"

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                model = str(body.get("model", ""))
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                with server._lock:
                    server.calls[model] += 1
                text = verdict(model, prompt)
                payload = {
                    "id": "chatcmpl-panel",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
