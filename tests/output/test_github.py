"""GitHub Actions: groups, annotations, stop-commands, step summary and outputs."""

from __future__ import annotations

import io
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun.output.base import make_reporter
from mogrun.output.github import GithubReporter, markdown_cell, output_name
from mogrun.runs import GateVerdict, RunState

from .values import SECRET, make_event, make_job, make_result

HOSTILE = "::error::pwned\n::set-output name=x::y \x1b[2J"


def github(tmp_path, quiet=False):
    out = io.StringIO()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }
    rep = make_reporter(stdout=out, stderr=io.StringIO(), quiet=quiet, env=env)
    assert isinstance(rep, GithubReporter)
    return rep, out


def two_jobs(rep):
    """Two jobs whose runs interleave, as parallel workers report them."""
    a, b = make_job("alpha"), make_job("beta.build", ("acme/x", "acme/y"))
    rep.job_started(a, a.runs[0], RunState("r_a", "pending"), False)
    rep.job_started(b, b.runs[0], RunState("r_b1", "pending"), False)
    rep.event(b, b.runs[0], make_event(HOSTILE + " " + SECRET))
    rep.event(a, a.runs[0], make_event("alpha works", tool="bash"))
    b_results = (
        make_result("beta.build", "acme/x", "failed", run_id="r_b1", message="exit 3"),
        make_result(
            "beta.build",
            "acme/y",
            "gate_failed",
            run_id="r_b2",
            gates=(GateVerdict("tests", False, "2 | failing"),),
        ),
    )
    rep.job_finished(b, b_results, "failed")
    a_result = (make_result("alpha", "acme/api", run_id="r_a", duration=3, branch="mogrun/a"),)
    rep.job_finished(a, a_result, "success")
    rep.session_started([a, b])
    rep.summary(tuple(reversed(a_result + b_results)), 1, rerun="mogrun rerun --failed")
    rep.close()


def commands_in_effect(text: str, token: str) -> list[str]:
    """The workflow commands the runner would execute, honouring stop-commands."""
    stopped, run = False, []
    for line in text.splitlines():
        if stopped:
            if line == f"::{token}::":
                stopped = False
            continue
        if line.startswith(f"::stop-commands::{token}"):
            stopped = True
        elif line.startswith("::"):
            run.append(line)
    return run


def test_only_mogruns_own_commands_take_effect(tmp_path):
    rep, out = github(tmp_path)
    two_jobs(rep)
    effective = commands_in_effect(out.getvalue(), rep.token)
    assert effective == [
        "::group::alpha",
        "::endgroup::",
        "::group::beta.build",
        "::error title=mogrun%3A beta.build::beta.build acme/x: failed (r_b1): exit 3",
        "::error title=mogrun%3A beta.build::beta.build acme/y: gate_failed (r_b2): "
        "gate tests: 2 | failing",
        "::endgroup::",
        "::group::alpha (continued)",
        "::endgroup::",
    ]


def test_agent_text_sits_inside_stop_commands_escaped(tmp_path):
    rep, out = github(tmp_path)
    two_jobs(rep)
    text = out.getvalue()
    hostile_line = next(line for line in text.splitlines() if "pwned" in line)
    assert hostile_line.endswith("log  -  ::error::pwned\\n::set-output name=x::y \\x1b[2J ***")
    lines = text.splitlines()
    index = lines.index(hostile_line)
    before = [
        line
        for line in lines[:index]
        if line.startswith("::stop-commands::") or line == f"::{rep.token}::"
    ]
    assert before[-1] == f"::stop-commands::{rep.token}"
    assert "\x1b" not in text and SECRET not in text
    assert text.rstrip().endswith(f"::{rep.token}::")


def test_token_is_unguessable_per_session_and_never_in_agent_text(tmp_path):
    first, _ = github(tmp_path)
    second, out = github(tmp_path)
    assert first.token != second.token
    assert re.fullmatch(r"[0-9a-f]{32}", second.token)
    job = make_job()
    second.event(job, job.runs[0], make_event(f"::{second.token}::\n::error::x"))
    second.notice(f"also {second.token}", level="warning")
    second.close()
    effective = commands_in_effect(out.getvalue(), second.token)
    assert effective == ["::group::build", "::warning::also ***", "::endgroup::"]
    assert out.getvalue().count(second.token) == out.getvalue().count("::stop-commands::") * 2


def test_each_line_sits_in_its_jobs_group_and_finished_jobs_show_at_once(tmp_path):
    rep, out = github(tmp_path)
    two_jobs(rep)
    group, seen = None, []
    for line in out.getvalue().splitlines():
        if line.startswith("::group::"):
            group = line.removeprefix("::group::").removesuffix(" (continued)")
        elif line == "::endgroup::":
            group = None
        elif re.match(r"\d\d:\d\d:\d\d  ", line):
            label = line.split("  ")[1].split(":")[0]
            assert label == group, line
            seen.append(label)
    # alpha streamed first; beta finished first, so its group came whole
    # before alpha's result line, which went on in a continued group.
    assert seen == [
        "alpha",
        "alpha",
        "beta.build",
        "beta.build",
        "beta.build",
        "beta.build",
        "beta.build",
        "alpha",
    ]


def test_step_summary_is_appended_as_markdown(tmp_path):
    (tmp_path / "summary.md").write_text("earlier step\n")
    rep, _ = github(tmp_path)
    two_jobs(rep)
    assert (tmp_path / "summary.md").read_text() == (
        "earlier step\n"
        "## mogrun\n\n"
        "| job | repo | run id | status | duration | branch | gates |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        "| alpha | acme/api | r_a | success | 3s | mogrun/a | - |\n"
        "| beta.build | acme/x | r_b1 | failed | - | - | - |\n"
        "| beta.build | acme/y | r_b2 | gate_failed | - | - | tests: 2 \\| failing |\n"
        "\n"
        "- beta.build:acme/x  failed (r_b1): exit 3\n"
        "- beta.build:acme/y  gate_failed (r_b2): gate tests: 2 \\| failing\n"
        "- 1 passed, 2 failed in 0s\n"
        "- rerun what did not pass: mogrun rerun --failed\n"
        "\nexit code: 1\n\n"
    )


def test_run_ids_are_appended_to_github_output(tmp_path):
    (tmp_path / "output.txt").write_text("before=1\n")
    rep, _ = github(tmp_path)
    two_jobs(rep)
    assert (tmp_path / "output.txt").read_text().splitlines() == [
        "before=1",
        "run_ids=r_a r_b1 r_b2",
        "branches=mogrun/a",
        "exit_code=1",
        "alpha_run_ids=r_a",
        "beta_build_run_ids=r_b1 r_b2",
        "alpha_branches=mogrun/a",
        "beta_build_branches=",  # written for every job, as its run ids are
    ]


def test_jobs_that_share_an_output_name_are_left_out_and_said(tmp_path):
    """a.b and a_b both wrote a_b_run_ids: one line held both jobs' runs."""
    rep, out = github(tmp_path)
    rep.summary((make_result("a.b", run_id="r_1"), make_result("a_b", run_id="r_2"),
                 make_result("c", run_id="r_3")), 0)
    lines = (tmp_path / "output.txt").read_text().splitlines()
    assert "run_ids=r_1 r_2 r_3" in lines and "c_run_ids=r_3" in lines
    assert not any(line.startswith("a_b_") for line in lines)
    assert ('::warning::jobs "a.b" and "a_b" share the step output name a_b: their '
            "a_b_run_ids and a_b_branches are left out; rename one of them") in out.getvalue()


def test_a_forged_run_id_cannot_add_an_output(tmp_path):
    rep, _ = github(tmp_path)
    rep.summary((make_result(run_id="r_1\nadmin=true"),), 0)
    assert "admin=true" not in (tmp_path / "output.txt").read_text().splitlines()


def test_output_names_are_sanitised():
    assert output_name("deploy prod/eu") == "deploy_prod_eu"
    assert output_name("3rd-job") == "_3rd-job"


def test_unwritable_step_summary_is_a_warning_not_a_crash(tmp_path):
    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such")}
    rep = make_reporter(stdout=out, stderr=io.StringIO(), env=env)
    rep.summary((make_result(),), 0)
    rep.close()
    effective = commands_in_effect(out.getvalue(), rep.token)  # an annotation, in effect
    assert any(line.startswith("::warning::cannot write $GITHUB_STEP_SUMMARY")
               for line in effective), out.getvalue()


def test_quiet_still_annotates_failures(tmp_path):
    rep, out = github(tmp_path, quiet=True)
    two_jobs(rep)
    effective = commands_in_effect(out.getvalue(), rep.token)
    assert sum(line.startswith("::error") for line in effective) == 2
    assert "alpha works" not in out.getvalue()


def test_concurrent_jobs_each_line_in_its_own_group_none_lost(tmp_path):
    import threading

    rep, out = github(tmp_path)
    jobs = [make_job(f"job{i}") for i in range(6)]

    def work(job, count):
        rep.job_started(job, job.runs[0], RunState(f"r_{job.name}", "pending"), False)
        for n in range(count):
            rep.event(job, job.runs[0], make_event(f"n{n}"))
        rep.job_finished(job, (make_result(job.name, run_id=f"r_{job.name}"),), "success")

    threads = [threading.Thread(target=work, args=(job, 10 + 7 * i)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rep.close()
    group, seen = None, {job.name: [] for job in jobs}
    for line in out.getvalue().splitlines():
        if line.startswith("::group::"):
            assert group is None, "groups must not nest"
            group = line.removeprefix("::group::").removesuffix(" (continued)")
        elif line == "::endgroup::":
            group = None
        elif re.match(r"\d\d:\d\d:\d\d  ", line):
            label = line.split("  ")[1]
            assert label == group, line
            seen[label].append(line.split("  ")[-1])
    assert group is None
    for i, job in enumerate(jobs):
        events = [text for text in seen[job.name] if re.fullmatch(r"n\d+", text)]
        assert events == [f"n{n}" for n in range(10 + 7 * i)]


def test_a_timeout_is_one_error_annotation_and_a_passing_jobs_warning_is_kept():
    out = io.StringIO()
    rep = GithubReporter(stdout=out, stderr=io.StringIO(), env={})
    slow, fine = make_job("slow"), make_job("fine")
    rep.notice("timed out after 3s; cancelled run r_1", job=slow, run=slow.runs[0],
               level="warning")
    rep.notice("some of its events may not be shown", job=fine, run=fine.runs[0],
               level="warning")
    rep.job_finished(slow, (make_result("slow", outcome="timeout",
                                        message="timed out after 3s"),), "timeout")
    rep.job_finished(fine, (make_result("fine"),), "success")
    rep.close()
    commands = [line for line in out.getvalue().splitlines()
                if line.startswith(("::error", "::warning"))]
    assert commands == [
        "::error title=mogrun%3A slow::slow acme/api: timeout (r_1): timed out after 3s",
        "::warning::fine: some of its events may not be shown",
    ]
    assert "slow: timed out after 3s; cancelled run r_1" in out.getvalue()  # the line stays


def test_a_runs_own_error_is_one_annotation_from_its_result(tmp_path):
    """A run that could not start had two ::error:: lines: its error notice and
    its result's (a fan-out, four for two runs)."""
    rep, out = github(tmp_path)
    job = make_job("bad")
    rep.session_started([job])
    rep.notice("could not start: HTTP 400", job=job, run=job.runs[0], level="error")
    rep.job_finished(job, (make_result("bad", outcome="error", run_id=None,
                                       message="could not start: HTTP 400"),), "error")
    rep.close()
    text = out.getvalue()
    assert sum(line.startswith("::error") for line in text.splitlines()) == 1, text
    assert "error: bad: could not start: HTTP 400" in text  # still a line of its group


@pytest.mark.parametrize(("agent", "shown"), [
    ("[Approve](https://evil.example/x)", r"\[Approve\](https\://evil.example/x)"),
    ("![t](https://evil.example/pixel.png)", r"\!\[t\](https\://evil.example/pixel.png)"),
    ("&#x202E;gnp.exe &amp;", "&amp;#x202E;gnp.exe &amp;amp;"),  # no entity: as written
    ("see www.evil.example or HTTP://x.y", r"see www\.evil.example or HTTP\://x.y"),
    ("**URGENT** ***x***", r"\*\*URGENT\*\* \*\*\*x\*\*\*"),
    ("`code` ~~gone~~ _em_", r"\`code\` \~\~gone\~\~ \_em\_"),
    ("a|b <script>", r"a\|b &lt;script>"),
    ("gate_failed r_a", "gate_failed r_a"),  # inside a word: no emphasis, kept as is
])
def test_agent_text_in_the_step_summary_is_shown_as_written(agent, shown):
    """A reason made a clickable link, a remote image (a tracking pixel) and bold
    text, and a mask (***) turned into emphasis and vanished."""
    assert markdown_cell(agent) == shown


MARKDOWN_PIECES = [*"ab_*`[]()!~|<>&#;:/.wW@\\ -x12$^{}='\"+", "https://", "www.", "**", "__",
                   "~~", "&#x202E;", "&amp;", "&lt;", "<script>", "![", "](", "\u202e"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=14).map("".join))
def test_github_renders_an_escaped_cell_as_the_text_it_was(agent):
    """Rendered by cmark-gfm, GitHub's own Markdown, in a summary's table: the text
    as written (no entity decoded: `&#x202E;` had become a real right-to-left
    override), with no tag but an e-mail address's link (no link, image,
    emphasis, code or strike-through; `https://` and `www.` were linked)."""
    import html

    import cmarkgfm

    page = cmarkgfm.github_flavored_markdown_to_html(
        f"| reason |\n| --- |\n| {markdown_cell(agent)} |\n")
    cell = re.search(r"<tbody>\s*<tr>\s*<td>(.*)</td>\s*</tr>", page, re.DOTALL)
    assert cell is not None, page  # one row, one cell: no | or line ended it
    shown = re.sub(r'<a href="mailto:[^"]*">([^<]*)</a>', r"\1", cell.group(1))
    assert "<" not in shown, shown
    assert html.unescape(shown) == agent.strip(), shown  # a cell's edges are trimmed


def test_a_held_line_is_handed_over_when_due_though_no_other_line_comes(tmp_path):
    """a's group was open and a went quiet (an agent thinking for minutes): b's
    line waited for the next line anyone wrote, 58 s in a QA run. Now it is shown
    once it has waited HAND_OVER, with no other line to carry it."""
    from mogrun.output.github import HAND_OVER

    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
           "GITHUB_OUTPUT": str(tmp_path / "o.txt")}
    rep = GithubReporter(stdout=out, stderr=io.StringIO(), env=env)
    a, b = make_job("a"), make_job("b")
    rep.job_started(a, a.runs[0], RunState("r_a", "pending"), False)
    rep.job_started(b, b.runs[0], RunState("r_b", "pending"), False)
    rep.event(b, b.runs[0], make_event("b's news"))
    assert "b's news" not in out.getvalue()  # a owns the group: held, for now
    deadline = time.monotonic() + HAND_OVER + 5
    while "b's news" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    shown = out.getvalue()
    assert "b's news" in shown, shown
    assert shown.index("::endgroup::") < shown.index("::group::b") < shown.index("b's news")
    rep.close()


def test_a_job_blocked_on_its_needs_does_not_hide_the_one_running(tmp_path):
    # deploy (waiting for build) opened the group with its needs wait, and build's
    # lines and waits were held until deploy's group closed: 15 minutes of nothing
    # in a CI log. A held line waits HAND_OVER at most; a wait takes the group at once.
    from mogrun.output.github import HAND_OVER
    from mogrun.waits import Wait, WaitKind

    now = [0.0]
    out = io.StringIO()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
           "GITHUB_OUTPUT": str(tmp_path / "o.txt")}
    rep = GithubReporter(stdout=out, stderr=io.StringIO(), env=env, clock=lambda: now[0])
    build = make_job("build")
    rep.wait(Wait.for_seconds(WaitKind.NEEDS, "needs build", None, job="deploy"))
    rep.job_started(build, build.runs[0], RunState("r_b", "pending"), False)
    now[0] = HAND_OVER / 2
    rep.event(build, build.runs[0], make_event("first"))
    shown = out.getvalue()
    assert "::group::build" not in shown and "first" not in shown  # held, for now
    now[0] = HAND_OVER * 1.1
    rep.event(build, build.runs[0], make_event("second"))
    shown = out.getvalue()
    assert shown.index("::group::build") < shown.index("first") < shown.index("second")
    now[0] = HAND_OVER * 1.2  # deploy's wait changes: said at once, in deploy's group
    rep.wait(Wait.for_seconds(WaitKind.NEEDS, "needs build, still going", None, job="deploy"))
    tail = out.getvalue()[len(shown):]
    assert tail.index("::endgroup::") < tail.index("::group::deploy (continued)") < \
        tail.index("still going")
    rep.close()
    group = None
    for line in out.getvalue().splitlines():  # never nested, each line in its job's group
        if line.startswith("::group::"):
            assert group is None
            group = line.removeprefix("::group::").removesuffix(" (continued)")
        elif line == "::endgroup::":
            group = None
        elif re.match(r"\d\d:\d\d:\d\d  ", line):
            assert line.split("  ")[1] == group, line
