"""Recorded answers replayed from MT-Bench-format answer files, so published answers can enter a tournament.

One JSON object per line: question_id, model_id, choices[{index, turns[...]}] (answer_id and tstamp are
ignored). The whole file is checked when the provider is built, so a bad file stops a run before any call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge._jsonl import read_json_lines
from judge.errors import InputError
from judge.providers.base import CallFailed, Completion, Endpoint, ErrorKind, Request


def create(endpoint: Endpoint) -> ReplayProvider:
    """Load the answers: Endpoint.path is an answer file, or a folder holding `<model>.jsonl`."""
    if endpoint.path is None:
        raise InputError("the replay provider needs the path of an MT-Bench answer file")
    path = Path(endpoint.path).expanduser()
    if path.is_dir():
        if endpoint.model is None:
            raise InputError(f"{path} is a folder: name the model whose <model>.jsonl to replay")
        path = path / f"{endpoint.model}.jsonl"
    return ReplayProvider(endpoint, load_answers(path))


def load_answers(path: Path) -> dict[str, tuple[str, ...]]:
    """question_id (as text) -> the recorded turns of the first choice; errors name file and line."""
    answers: dict[str, tuple[str, ...]] = {}
    for number, row in read_json_lines(path, what="answer file"):
        question_id, turns = _answer(row, path, number)
        if question_id in answers:
            raise InputError(f"question_id {question_id} appears twice", path=path, line=number)
        answers[question_id] = turns
    if not answers:
        raise InputError("the answer file holds no answers", path=path)
    return answers


def _answer(row: Any, path: Path, line: int) -> tuple[str, tuple[str, ...]]:
    def bad(what: str) -> InputError:
        return InputError(what, path=path, line=line)

    if not isinstance(row, dict):
        raise bad("expected a JSON object")
    question_id = row.get("question_id")
    if isinstance(question_id, bool) or not isinstance(question_id, int | str) or question_id == "":
        raise bad("question_id must be a number or a non-empty string")
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise bad("choices must be a non-empty list of objects")
    turns = choices[0].get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise bad("choices[0].turns must be a non-empty list of strings")
    return str(question_id), tuple(turns)


class ReplayProvider:
    """Returns the recorded turn for request.question_id / request.turn; costs nothing and takes no time."""

    name = "replay"

    def __init__(self, endpoint: Endpoint, answers: dict[str, tuple[str, ...]]) -> None:
        self.endpoint = endpoint
        self._answers = answers

    async def complete(self, request: Request) -> Completion:
        where = self.endpoint.path
        if request.question_id is None:
            raise CallFailed(ErrorKind.BAD_REQUEST, "replay needs the question_id of the request")
        turns = self._answers.get(str(request.question_id))
        if turns is None:
            raise CallFailed(
                ErrorKind.BAD_REQUEST, f"{where} has no answer to question {request.question_id}"
            )
        turn = request.turn or 1
        if not 1 <= turn <= len(turns):
            raise CallFailed(
                ErrorKind.BAD_REQUEST,
                f"{where} has {len(turns)} turn(s) for question {request.question_id}, not turn {turn}",
            )
        return Completion(
            text=turns[turn - 1], input_tokens=0, output_tokens=0, latency_s=0.0, model=request.model
        )

    async def aclose(self) -> None:
        pass
