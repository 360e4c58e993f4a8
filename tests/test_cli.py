"""The `kioskapp` command as an installer uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSKAPP_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kioskapp", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_config_example_is_a_valid_config(tmp_path: Path) -> None:
    example = run("config", "example")
    assert example.returncode == 0
    assert "[tecalis]" in example.stdout
    assert "# " in example.stdout  # commented
    path = tmp_path / "kiosk.toml"
    path.write_text(example.stdout)
    check = run("config", "check", str(path))
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout


def test_config_check_reports_each_problem_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        "[tecalis]\n"
        'timeout_s = "fast"\n'  # wrong type
        'pasword = "x"\n'  # unknown key
        f'password_file = "{tmp_path / "missing.pass"}"\n'  # missing secret file
    )
    result = run("config", "check", str(path))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    problems = [line for line in lines if "problem(s)" not in line]
    assert len(problems) == 3, result.stderr
    text = result.stderr
    assert "tecalis.timeout_s" in text
    assert "'fast'" in text
    assert "tecalis.pasword" in text
    assert "password" in text
    assert "missing.pass" in text


def test_config_check_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = run("config", "check", str(tmp_path / "nope.toml"))
    assert result.returncode != 0
    assert "nope.toml" in result.stderr


def test_run_with_a_bad_config_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[simulator]\nport = 70000\n")
    result = run("--config", str(path), "--simulate")
    assert result.returncode == 2
    assert "simulator.port" in result.stderr
    assert "70000" in result.stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("kioskapp ")


# -- logs under systemd -----------------------------------------------------------------


def test_log_lines_carry_journald_priorities_when_stderr_is_the_journal(tmp_path: Path) -> None:
    import logging

    from kioskapp.cli import JournalFormatter, log_formatter, stderr_is_journal

    with (tmp_path / "stream").open("w") as f:
        st = os.fstat(f.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert stderr_is_journal(env, f.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, f.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, f.fileno())
        assert not stderr_is_journal({}, f.fileno())
    assert isinstance(log_formatter({}), logging.Formatter)
    assert not isinstance(log_formatter({}), JournalFormatter)

    fmt = JournalFormatter()

    def line(level: int, msg: str) -> str:
        return fmt.format(logging.LogRecord("kioskapp.x", level, __file__, 1, msg, None, None))

    assert line(logging.ERROR, "printer gone") == "<3>kioskapp.x: printer gone"
    assert line(logging.WARNING, "slow") == "<4>kioskapp.x: slow"
    assert line(logging.INFO, "ok") == "<6>kioskapp.x: ok"
    assert line(logging.CRITICAL, "a\nb") == "<2>kioskapp.x: a\n<2>b"
    assert line(35, "between warning and error") == "<4>kioskapp.x: between warning and error"
