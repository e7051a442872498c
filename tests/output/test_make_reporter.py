"""make_reporter picks the implementation from the options and the environment."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from mogrun.output.base import make_reporter
from mogrun.output.github import GithubReporter
from mogrun.output.live import LiveReporter
from mogrun.output.ndjson import NdjsonReporter
from mogrun.output.plain import PlainReporter


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def pick(stdout, **kwargs):
    kwargs.setdefault("env", {})
    return make_reporter(stdout=stdout, stderr=io.StringIO(), **kwargs)


def test_a_pipe_gets_plain_lines():
    rep = pick(io.StringIO())
    assert type(rep) is PlainReporter


def test_a_terminal_gets_the_live_view_in_colour():
    rep = pick(FakeTty())
    assert isinstance(rep, LiveReporter)
    assert rep.console.is_terminal and not rep.console.no_color
    rep.close()


@pytest.mark.parametrize("options", [{}, {"no_color": True}])
def test_no_color_and_dash_dash_no_color_turn_colour_off(options):
    from mogrun.cli.state import CliState

    state = CliState(env={"NO_COLOR": "1"} if not options else {}).apply_options(options)
    rep = pick(FakeTty(), color=not state.no_color)
    assert isinstance(rep, LiveReporter)
    assert rep.console.no_color and rep.console.color_system is None
    rep.close()


def test_an_empty_no_color_leaves_colour_on():
    """no-color.org: NO_COLOR counts when set and not empty (rich reads it so too)."""
    from mogrun.cli.state import CliState

    state = CliState(env={"NO_COLOR": ""}).apply_options({})
    assert not state.no_color
    rep = pick(FakeTty(), color=not state.no_color)
    assert isinstance(rep, LiveReporter) and not rep.console.no_color
    rep.close()
    assert CliState(env={"NO_COLOR": "1"}).apply_options({}).no_color


def test_json_wins_over_terminal_and_github():
    rep = pick(FakeTty(), json=True, env={"GITHUB_ACTIONS": "true"})
    assert isinstance(rep, NdjsonReporter)


@pytest.mark.parametrize("stdout", [io.StringIO(), FakeTty()])
def test_github_actions_gets_its_flavour(stdout):
    rep = pick(stdout, env={"GITHUB_ACTIONS": "true"})
    assert isinstance(rep, GithubReporter)


def test_github_actions_must_be_exactly_true():
    assert type(pick(io.StringIO(), env={"GITHUB_ACTIONS": "false"})) is PlainReporter


def test_a_stream_without_isatty_counts_as_not_a_terminal():
    class Bare:
        def write(self, text):
            return len(text)

        def flush(self):
            pass

    assert type(pick(Bare())) is PlainReporter


def test_importing_the_output_package_does_not_import_rich():
    code = (
        "import sys, io\n"
        "import mogrun.output, mogrun.output.base, mogrun.output.plain\n"
        "from mogrun.output.base import make_reporter\n"
        "make_reporter(stdout=io.StringIO(), stderr=io.StringIO(), env={})\n"
        "print('rich' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("stdout_type", "options"),
    [
        (io.StringIO, {}),
        (FakeTty, {}),
        (io.StringIO, {"json": True}),
        (io.StringIO, {"env": {"GITHUB_ACTIONS": "true"}}),
    ],
)
def test_secrets_given_up_front_are_masked_before_any_job_reports(stdout_type, options):
    out, err = stdout_type(), io.StringIO()
    options.setdefault("env", {})
    rep = make_reporter(stdout=out, stderr=err, secrets=["https://hooks.example/T0K3N"], **options)
    rep.notice("webhook https://hooks.example/T0K3N did not answer", level="warning")
    rep.close()
    shown = out.getvalue() + err.getvalue()
    assert "webhook *** did not answer" in shown
    assert "T0K3N" not in shown


@pytest.mark.parametrize("cls", [PlainReporter, LiveReporter, NdjsonReporter, GithubReporter])
def test_every_reporter_implements_the_protocol_signatures(cls):
    import inspect

    from mogrun.output.base import Reporter

    for name in ("job_started", "event", "status", "notice", "job_finished", "summary", "close"):
        expected = inspect.signature(getattr(Reporter, name))
        actual = inspect.signature(getattr(cls, name))
        assert list(actual.parameters) == list(expected.parameters), (cls, name)
        kinds = [p.kind for p in actual.parameters.values()]
        assert kinds == [p.kind for p in expected.parameters.values()], (cls, name)


@pytest.mark.parametrize(("ci", "live"), [("true", False), ("1", False), ("True", False),
                                          ("", True), ("false", True), ("0", True),
                                          ("off", True), (" No\r", True), ("  ", True)])
def test_a_ci_runner_s_terminal_gets_plain_lines(ci, live):
    """A CI runner that gives its jobs a terminal (Buildkite, some GitLab runners)
    had the live view redrawn into its log five times a second: under CI the lines
    are plain, as in a pipe."""
    rep = pick(FakeTty(), env={"CI": ci})
    assert type(rep) is (LiveReporter if live else PlainReporter)
    rep.close()
