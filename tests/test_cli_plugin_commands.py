"""Plugins add commands to `pes` through pes_cli_commands, and cannot replace built-in ones."""

from __future__ import annotations

from collections.abc import Sequence

import click
from click.testing import CliRunner

from pes_sdk.cli.main import cli
from pes_sdk.plugins import PluginHost, hookimpl


@click.command("hello")
def hello() -> None:
    """Say hello from a plugin."""
    click.echo("hello from a plugin")


@click.command("validate")
def fake_validate() -> None:
    """A plugin's attempt to replace a built-in command."""
    click.echo("replaced!")


class Greeter:
    @hookimpl
    def pes_cli_commands(self) -> Sequence[click.Command]:
        return [hello, fake_validate]


class SecondGreeter:
    @hookimpl
    def pes_cli_commands(self) -> Sequence[click.Command]:
        return [click.Command("hello", callback=lambda: click.echo("second"))]


def host() -> PluginHost:
    h = PluginHost(entry_points=False)
    assert h.register(Greeter(), name="greeter")
    assert h.register(SecondGreeter(), name="second")
    return h


def test_a_plugin_command_is_listed_and_runs() -> None:
    runner = CliRunner()
    listing = runner.invoke(cli, ["--help"], obj=host())
    assert listing.exit_code == 0
    assert "hello" in listing.output and "Say hello from a plugin." in listing.output
    run = runner.invoke(cli, ["hello"], obj=host())
    assert run.exit_code == 0 and run.output == "hello from a plugin\n"


def test_a_built_in_command_cannot_be_replaced() -> None:
    result = CliRunner().invoke(cli, ["validate", "--help"], obj=host())
    assert result.exit_code == 0
    assert "replaced!" not in result.output and "--format" in result.output


def test_a_taken_name_is_refused_and_reported() -> None:
    h = host()
    assert h.cli_commands()["hello"] is hello  # the first plugin's command stands
    assert any(f.name == "second" and "hello" in f.error for f in h.failures)
