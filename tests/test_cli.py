"""CLI contract: wrong arguments give one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest
from conftest import run_cli


@pytest.mark.parametrize("args", [
    ["nonsense"],
    ["warehouse", "sideways"],
    ["demo", "--days", "zero"],
    ["demo", "--days", "0"],
    ["simulate", "--seed", "1", "--start", "2025-13-01", "--days", "1", "--out", "x"],
    ["simulate", "--seed", "1", "--days", "1"],
    ["sources", "serve"],
    ["report", "--date", "yesterday", "--out", "x"],
    ["report", "--out", "x"],
    ["inspector", "add", "thanhtra_vinh"],
    ["inspector", "remove", "thanhtra_vinh", "--unit", "412"],
    ["check", "--as-of", "2025-03-05T10:00:00"],
    ["extract", "onestop", "--since", "2025-03-03T01:00:00+07:00", "--until", "2025-03-03T00:00:00+07:00"],
    ["extract", "onestop", "--since", "yesterday", "--until", "2025-03-03T00:00:00+07:00"],
    ["extract", "onestop", "--province", "99", "--since", "2025-03-03T00:00:00+07:00",
     "--until", "2025-03-03T01:00:00+07:00"],
    ["simulate", "--seed", "1", "--start", "2025-03-03", "--days", "1", "--province", "4O", "--out", "x"],
    [],
])
def test_wrong_arguments_one_line(args):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tthc") and "error:" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_environment_is_one_line(tmp_path):
    result = run_cli("warehouse", "dsn", env={"TTHC_PROVINCE": "Nghe An", "TTHC_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == ("tthc: error: TTHC_PROVINCE must be a statistics-office province code "
                                     "(2 digits, e.g. 40 = Nghệ An, 38 = Thanh Hóa), got 'Nghe An'")


def test_help_lists_the_contract_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "warehouse", "simulate", "sources", "bench", "report", "check", "score", "inspector",
                    "docs"):
        assert command in result.stdout
