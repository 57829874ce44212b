"""``main`` builds only the command named on the command line; ``--help`` and the ``app`` attribute build all.

Typer reads every registered function's signature at each start, so a command line holding all fifteen commands
costs ``check`` about 80 ms before it does anything. These tests pin that the partial app answers exactly as the
whole one does.
"""

from __future__ import annotations

import json

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

import crossmargin
from crossmargin import cli
from tests.cli.test_app import COMMANDS as LISTED
from tests.fixtures.harness import CASE_STUDY


def _names(app: typer.Typer) -> set[str]:
    group = get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


def test_the_command_map_names_every_command_the_help_lists() -> None:
    # Assert: cli.COMMANDS is what routes a command line; a command missing there would never be built alone
    assert set(cli.COMMANDS) == set(LISTED)
    assert _names(cli.build_app()) == set(LISTED)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_a_named_command_builds_only_its_own_module(name: str) -> None:
    # Act
    built = _names(cli.build_app(name))

    # Assert: the command itself, plus only the others its module registers
    assert name in built
    assert built == {other for other, module in cli.COMMANDS.items() if module == cli.COMMANDS[name]}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "book.toml", "--json"], "check"),
        (["--version"], None),
        ([], None),
        (["chekc", "book.toml"], None),  # a typo: the whole app answers, with its suggestions
        (["venues", "--json"], "venues"),
        (["book.toml"], None),
    ],
)
def test_the_named_command_is_the_first_word_that_is_a_command(argv: list[str], expected: str | None) -> None:
    assert cli._named_command(argv) == expected


def test_shell_completion_builds_the_whole_app(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange
    monkeypatch.setenv("_CROSSMARGIN_COMPLETE", "complete_bash")

    # Assert
    assert cli._named_command(["check", "book.toml"]) is None


def test_main_runs_the_named_command_as_the_whole_app_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    args = ["check", str(CASE_STUDY), "--json"]
    whole = CliRunner().invoke(cli.app, args)
    monkeypatch.setattr("sys.argv", ["crossmargin", *args])

    # Act
    with pytest.raises(SystemExit) as stop:
        cli.main()

    # Assert
    assert stop.value.code == 0
    assert whole.exit_code == 0
    assert json.loads(capsys.readouterr().out) == json.loads(whole.stdout)


def test_a_typo_gets_the_suggestion_of_the_whole_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    monkeypatch.setattr("sys.argv", ["crossmargin", "chekc"])

    # Act
    with pytest.raises(SystemExit) as stop:
        cli.main()

    # Assert
    assert stop.value.code == 2
    assert "check" in capsys.readouterr().err


def test_the_package_resolves_every_public_name_lazily() -> None:
    # Assert: every name of __all__ has a home, and each resolves to the object of that home
    homes = crossmargin._HOMES
    assert set(homes) == set(crossmargin.__all__)
    for name, home in homes.items():
        module = __import__(home, fromlist=[name])
        assert getattr(crossmargin, name) is getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = crossmargin.nothing
