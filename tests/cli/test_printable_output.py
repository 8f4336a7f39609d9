"""Finding 8: commands print stored and remote text as characters, never as terminal commands.

The commands run with ``color=True``: click then passes escape sequences through as it does
on a terminal (without it, click strips some of them from non-terminal output, which would
hide the bug).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.cli.printable import printable, printable_lines
from selfiam.domain.errors import MissingAuthenticationToken
from selfiam.service.caller import RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.settings import Settings

#: An OSC that retitles the window, a bell, and a CSI that clears the screen.
HOSTILE = "\x1b]0;owned\x07\x1b[2J"
#: Every character a terminal may act on: C0 but the newline, DEL, C1, bidi controls.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, color=True)
    return result.exit_code, result.output


def assert_printable(out: str) -> None:
    found = _CONTROL.findall(out)
    assert not found, f"raw control characters {found!r} in {out!r}"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, "\\x1b]0;owned\\x07\\x1b[2J"),
        ("a\rb\x08c\x9bd", "a\\x0db\\x08c\\x9bd"),
        ("user\u202etxt.exe", "user\\u202etxt.exe"),
        ("\u2066x\u2069", "\\u2066x\\u2069"),
        ("two\nlines", "two\\x0alines"),
        ("café ünïcode 名前 [bold red]", "café ünïcode 名前 [bold red]"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_lines_keeps_line_breaks_only() -> None:
    assert printable_lines("one\x1b[2J\ntwo\r") == "one\\x1b[2J\ntwo\\x0d"


def _init(tmp_path: Path) -> str:
    data = str(tmp_path / "data")
    code, out = run("init", "--data-dir", data, "--output", "json")
    assert code == 0, out
    return data


def test_audit_prints_a_hostile_action_escaped(tmp_path: Path) -> None:
    """An unsigned request's Action is audited as sent (the endpoint's rejection path);
    `selfiam audit` must show it, escaped."""
    data = _init(tmp_path)
    runtime = open_runtime(Settings.from_env(data_dir=data))
    info = RequestInfo(request_id="req-hostile", now=runtime.clock(), source_ip="203.0.113.9")
    runtime.record_rejection(
        f"iam:{HOSTILE}",
        MissingAuthenticationToken("Request is missing Authentication Token"),
        info,
    )
    runtime.audit.flush()

    code, out = run("audit", "--data-dir", data, "--limit", "1000")
    assert code == 0, out
    assert_printable(out)
    line = next(x for x in out.splitlines() if "req-hostile" in x)
    assert "iam:\\x1b]0;owned\\x07\\x1b[2J" in line
    assert "MissingAuthenticationToken" in line


@pytest.mark.parametrize(
    "statement",
    [
        {"Sid": f"A{HOSTILE}", "Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": HOSTILE},
        {
            "Effect": "Allow",
            "Action": "iam:CreateAccessKey",
            "Resource": f"arn:aws:iam::*:user/{HOSTILE}*",
        },
    ],
    ids=["sid", "malformed-resource", "escalation-warning"],
)
@pytest.mark.parametrize("command", ["lint", "validate"])
def test_policy_commands_print_policy_text_escaped(
    tmp_path: Path, statement: dict[str, str], command: str
) -> None:
    """A policy under review (say, from a pull request) whose text holds escapes: the
    findings that quote it are printable."""
    policy = tmp_path / "hostile.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    result = CliRunner().invoke(cli, ["policy", command, str(policy)], color=True)
    out = result.output
    assert_printable(out)
    if out.strip() != "OK":  # validate says only OK to a well-formed document
        assert "\\x1b]0;owned\\x07" in out


def test_verify_table_shows_markup_and_escapes_literally(tmp_path: Path) -> None:
    """A rich table cell (here the title, which names the file) is text, never markup."""
    policy = tmp_path / f"[bold red]x{HOSTILE}.json"
    statement = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    _, out = run("verify", "self-service", "--local", "--policy", str(policy))
    assert_printable(out.replace("\x1b[", ""))  # rich's own styling may use CSI (color=True)
    assert "[bold red]x" in out
    assert "]0;owned" not in out.replace("\\x1b]0;owned", "")


def test_an_error_quoting_input_is_printable(tmp_path: Path) -> None:
    """`user remove` of a name holding escapes: the error line that quotes it is escaped."""
    data = _init(tmp_path)
    result = CliRunner().invoke(
        cli, ["user", "remove", f"x{HOSTILE}", "--yes", "--data-dir", data], color=True
    )
    assert result.exit_code != 0
    assert_printable(result.output)
