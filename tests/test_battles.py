"""Battle-log loaders: format detection, the canonical frame, one located error per malformed-row kind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from judge.battles import BATTLE_COLUMNS, FileCounts, load_battles
from judge.errors import InputError

DATA = Path(__file__).parent / "data"
HEADER = "question_id,model_a,model_b,winner\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("arena_battles.json", "arena"),
        ("arena_battles.jsonl", "arena"),
        ("mtbench_human_sample.csv", "mtbench"),
        ("llmfao_crowd_sample.csv", "llmfao"),
        ("battles_generic.csv", "generic"),
        ("battles_generic.jsonl", "generic"),
    ],
)
def test_format_is_detected_from_the_content(name: str, expected: str) -> None:
    loaded = load_battles(DATA / name)
    assert loaded.files[0].format == expected
    assert list(loaded.frame.columns) == list(BATTLE_COLUMNS)
    assert loaded.frame["question_id"].dtype == "string"


def test_mtbench_shape_with_other_judges_is_generic(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text("question_id,model_a,model_b,judge,turn,winner\n81,a,b,alice,1,tie\n")
    assert load_battles(path).files[0].format == "generic"


def test_arena_keeps_anonymous_battles_and_counts_the_rest() -> None:
    loaded = load_battles(DATA / "arena_battles.json")
    assert loaded.files == (
        FileCounts(str(DATA / "arena_battles.json"), "arena", rows_read=6, excluded={"non-anonymous": 2}),
    )
    assert loaded.files[0].rows_kept == 4 == len(loaded.frame)
    assert set(loaded.frame["source"]) == {"human"}
    assert loaded.frame["language"].tolist() == ["English", "German", "English", "English"]
    assert loaded.frame["turn"].tolist() == [1, 2, 1, 1]


def test_include_non_anony_keeps_everything() -> None:
    loaded = load_battles(DATA / "arena_battles.json", include_non_anony=True)
    assert len(loaded.frame) == 6
    assert loaded.excluded == {}
    assert "tie (bothbad)" in set(loaded.frame["winner"])


def test_format_override_skips_detection() -> None:
    loaded = load_battles(DATA / "arena_battles.json", format="generic")
    assert loaded.files[0].format == "generic"
    assert len(loaded.frame) == 6  # generic has no notion of anonymity
    assert loaded.frame["source"].isna().all()
    with pytest.raises(InputError, match="missing required column 'prompt' for the llmfao format"):
        load_battles(DATA / "battles_generic.csv", format="llmfao")


def test_mtbench_gets_human_source_and_question_categories() -> None:
    frame = load_battles(DATA / "mtbench_human_sample.csv").frame
    assert frame["category"].tolist() == [
        "writing",
        "writing",
        "roleplay",
        "reasoning",
        "reasoning",
        "humanities",
    ]
    assert set(frame["source"]) == {"human"}
    assert frame["question_id"].tolist()[:3] == ["81", "81", "95"]


def test_llmfao_maps_left_right_and_worker() -> None:
    frame = load_battles(DATA / "llmfao_crowd_sample.csv").frame
    assert frame["winner"].tolist() == ["tie", "model_a", "model_b", "model_a"]
    assert frame["model_a"].tolist()[0] == "Model One"
    assert frame["judge"].tolist() == ["58", "83", "12", "12"]
    assert frame["question_id"].tolist() == ["8", "8", "5", "5"]


def test_llmfao_without_worker_is_judge_votes(tmp_path: Path) -> None:
    path = tmp_path / "gpt4-comparisons.csv"
    path.write_text("id,prompt,model_x,model_y,winner,left,right\n0,8,1,2,right,A,B\n")
    frame = load_battles(path).frame
    assert frame["source"].tolist() == ["judge"]
    assert frame["winner"].tolist() == ["model_b"]


def test_question_id_stays_a_string_with_its_zeros() -> None:
    frame = load_battles(DATA / "battles_generic.csv").frame
    assert frame["question_id"].tolist() == ["007", "008", "009"]


def test_several_files_concatenate_with_counts() -> None:
    loaded = load_battles(
        [DATA / "arena_battles.json", DATA / "arena_battles.jsonl", DATA / "battles_generic.jsonl"]
    )
    assert [f.rows_read for f in loaded.files] == [6, 3, 2]
    assert loaded.rows_read == 11
    assert loaded.excluded == {"non-anonymous": 3}
    assert len(loaded.frame) == 11 - 3
    assert loaded.frame["source"].value_counts().to_dict() == {"human": 6, "judge": 2}


def test_missing_optional_columns_are_null(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"model_a": "x", "model_b": "y", "winner": "tie"}\n')
    frame = load_battles(path).frame
    assert frame.loc[0, ["question_id", "judge", "turn", "tstamp"]].isna().all()


def test_quoted_newlines_fall_back_to_an_exact_reader(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(HEADER + '"multi\nline",x,y,tie\n2,NA,None,model_a\n')
    frame = load_battles(path).frame
    assert frame["question_id"].tolist() == ["multi\nline", "2"]
    assert frame["model_a"].tolist() == ["x", "NA"]
    assert frame["model_b"].tolist() == ["y", "None"]  # only an empty cell is missing


MALFORMED = [
    (
        "bad.csv",
        HEADER + "1,x,y,model_a\n2,x,y,left\n",
        "bad.csv:3: winner must be one of model_a, model_b, tie, tie (bothbad), not 'left'",
    ),
    ("blank.csv", HEADER + "1,x,y,model_a\n\n2,x,,tie\n", "blank.csv:4: missing model_b"),
    ("q.csv", HEADER + ",x,y,tie\n", "q.csv:2: missing question_id"),
    ("same.csv", HEADER + "1,x,x,model_a\n", "same.csv:2: model_a and model_b are the same model ('x')"),
    (
        "col.csv",
        "question_id,model_a,winner\n1,x,model_a\n",
        "col.csv: missing required column 'model_b' for the generic format",
    ),
    ("empty.csv", "", "empty.csv: empty file"),
    ("blank.jsonl", "\n  \n", "blank.jsonl: empty file"),
    ("header.csv", HEADER, "header.csv: no battles in the file"),
    ("fields.csv", HEADER + "1,x,y,model_a,9\n", "fields.csv:2: expected 4 fields, found 5"),
    (
        "turn.csv",
        "model_a,model_b,winner,turn\nx,y,tie,1\nx,y,tie,abc\n",
        "turn.csv:3: turn must be a positive integer, not 'abc'",
    ),
    (
        "turn.jsonl",
        '{"model_a":"x","model_b":"y","winner":"tie","turn":1.5}\n',
        "turn.jsonl:1: turn must be a positive integer, not 1.5",
    ),
    (
        "ts.jsonl",
        '{"model_a":"x","model_b":"y","winner":"tie","tstamp":"soon"}\n',
        "ts.jsonl:1: tstamp must be a number, not 'soon'",
    ),
    (
        "json.jsonl",
        '{"model_a":"x","model_b":"y","winner":"tie"}\n\n{"model_a":"x"\n',
        "json.jsonl:3: not valid JSON: Expecting ',' delimiter",
    ),
    (
        "list.json",
        '[\n{"model_a":"x","model_b":"y","winner":"tie"},\n',
        "list.json:3: unreadable JSON: Expecting value",
    ),
    (
        "scalar.json",
        '[\n{"model_a":"x","model_b":"y","winner":"tie"},\n 7\n]',
        "scalar.json:3: expected a JSON object",
    ),
    ("unknown.csv", "x,y\n1,2\n", "unknown.csv: missing required column 'model_a' for the generic format"),
    ("obj.json", '{"battles": []}', "obj.json: missing required column 'model_a' for the generic format"),
    (
        "source.jsonl",
        '{"model_a":"x","model_b":"y","winner":"tie","source":"robot"}\n',
        "source.jsonl:1: source must be human or judge, not 'robot'",
    ),
    (
        "arena.json",
        '[\n {"question_id": "a", "model_a": "x", "model_b": "y", "winner": "tie", "anony": true},\n'
        ' {"question_id": "b", "model_a": "x", "model_b": "y", "winner": "draw", "anony": false}\n]',
        "arena.json:3: winner must be one of model_a, model_b, tie, tie (bothbad), not 'draw'",
    ),
    (
        "anony.jsonl",
        '{"question_id":"a","model_a":"x","model_b":"y","winner":"tie","anony":"maybe"}\n',
        "anony.jsonl:1: anony must be true or false, not 'maybe'",
    ),
    (
        "llmfao.csv",
        "id,prompt,worker,winner,left,right\n0,8,1,model_a,A,B\n",
        "llmfao.csv:2: winner must be left, right or tie, not 'model_a'",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_rows_stop_the_load_with_file_line_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text)
    with pytest.raises(InputError) as raised:
        load_battles(name)
    assert raised.value.message == message


def test_first_bad_row_wins_across_checks(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(HEADER + "1,x,y,tie\n2,x,x,tie\n3,x,y,nope\n")
    with pytest.raises(InputError) as raised:
        load_battles(path)
    assert raised.value.line == 3


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_battles(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "1,caf\xe9,y,tie\n").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_battles(path)
    with pytest.raises(InputError, match="unknown format 'xml'"):
        load_battles(DATA / "battles_generic.csv", format="xml")


def test_real_mt_bench_human_judgments(shared_data: Path) -> None:
    folder = shared_data / "mt_bench_human"
    loaded = load_battles([folder / "human_judgments.csv", folder / "human_judgments_turn1.jsonl"])
    assert [(f.format, f.rows_read) for f in loaded.files] == [("mtbench", 3355), ("mtbench", 1689)]
    frame = loaded.frame
    both = frame.iloc[:3355]
    assert both["winner"].value_counts().to_dict() == {"model_a": 1293, "model_b": 1282, "tie": 780}
    assert (both["turn"] == 1).sum() == 1689  # the turn-1 file holds exactly the turn-1 votes
    assert frame.groupby("category").size().min() > 0
    assert frame["category"].notna().all()


def test_real_llmfao_files(shared_data: Path) -> None:
    folder = shared_data / "llmfao"
    loaded = load_battles([folder / "crowd-comparisons.csv", folder / "gpt4-comparisons.csv"])
    assert [(f.format, f.rows_read) for f in loaded.files] == [("llmfao", 8931), ("llmfao", 3236)]
    crowd = loaded.frame.iloc[:8931]
    assert crowd["winner"].value_counts().to_dict() == {"tie": 3471, "model_a": 2911, "model_b": 2549}
    assert loaded.frame["source"].value_counts().to_dict() == {"human": 8931, "judge": 3236}
    assert pd.api.types.is_string_dtype(loaded.frame["question_id"])


def test_jsonl_with_mixed_types_loads_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"question_id": 81, "model_a": "x", "model_b": "y", "winner": "tie", "turn": 1}\n'
        '{"question_id": "q-2", "model_a": "x", "model_b": "y", "winner": "tie", "turn": "2"}\n'
    )
    frame = load_battles(path).frame
    assert frame["question_id"].tolist() == ["81", "q-2"]
    assert frame["turn"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['"turn": "1"', '"turn": "two"'], "t.jsonl:3: turn must be a positive integer, not 'two'"),
        (['"turn": 1', '"turn": 2.5'], "t.jsonl:3: turn must be a positive integer, not 2.5"),
        (['"anony": true', '"anony": null'], "t.jsonl:3: anony must be true or false, not an empty value"),
    ],
)
def test_typed_json_columns_are_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    base = '"question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie"'
    Path("t.jsonl").write_text("".join(f"{{{base}, {extra}}}\n\n" for extra in lines))
    with pytest.raises(InputError) as raised:
        load_battles("t.jsonl")
    assert raised.value.message == message
