"""The README's exit-code table is the contract a CI relies on: it must match the error classes."""

from __future__ import annotations

import re

from judge.errors import IncompleteRun, InputError, ProviderError, RegressionFound, RunLocked, StoreError
from tests.conftest import ROOT


def readme_codes() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)}


def test_readme_table_matches_the_error_classes():
    codes = readme_codes()
    assert sorted(codes) == [0, 1, 2, 3, 4, 5, 130]
    assert RegressionFound.exit_code == 1 and "judge compare" in codes[1]
    assert InputError.exit_code == 2 and "bad input" in codes[2]
    assert ProviderError.exit_code == 3 and "provider" in codes[3]
    assert (
        StoreError.exit_code == RunLocked.exit_code == 4 and "disk full" in codes[4] and "locked" in codes[4]
    )
    assert IncompleteRun.exit_code == 5 and "--allow-failures" in codes[5]
