"""Every firing of the generated workflow runs each mogrun job at most once, and
every job it selects with all of that job's needs, needs first.

The workflow is read back as GitHub reads it and simulated: for a schedule
(each cron) and each ``workflow_dispatch`` choice, which GitHub jobs run (their
``if:``, and their ``needs:`` having run), and which mogrun jobs each one's
``mogrun run ...`` runs.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from graphlib import TopologicalSorter
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .workflows import WORKFLOW, assert_valid_workflow, generated, load_yaml, step

CRONS = ("17 6 * * 1", "29 6 * * 1", "41 2 * * *")


@dataclass(frozen=True)
class Job:
    needs: tuple[str, ...] = ()
    crons: tuple[str, ...] = ()
    repos: int = 1


def strings(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def toml(jobs: dict[str, Job]) -> str:
    text = ""
    for name, job in jobs.items():
        repos = [f"acme/{name}-{k}" for k in range(job.repos)]
        text += f'[jobs.{name}]\nrepo = {strings(repos)}\nprompt = "{name}"\n'
        if job.needs:
            text += f"needs = {strings(job.needs)}\n"
        if job.crons:
            text += f"schedule = {strings(job.crons)}\n"
    return text


def with_needs(jobs: dict[str, Job], names: set[str]) -> set[str]:
    found, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += jobs[name].needs
    return found


def fires(condition: str, event: dict[str, Any], results: dict[str, str] | None = None) -> bool:
    """A generated ``if:`` (``==``, ``&&``, ``||``, parentheses, quoted strings,
    ``!cancelled()`` and ``needs.ID.result``; nothing is ever cancelled here)."""
    scope = {"github": SimpleNamespace(event_name=event["name"],
                                       event=SimpleNamespace(schedule=event.get("schedule"))),
             "inputs": SimpleNamespace(job=event.get("job")), "results": results or {}}
    python = condition.replace("&&", " and ").replace("||", " or ")
    python = python.replace("!cancelled()", "True")
    python = re.sub(r"needs\.([A-Za-z0-9_-]+)\.result", r"results['\1']", python)
    return bool(eval(python, {"__builtins__": {}}, scope))  # the workflow's own if: text


def invocation(command: str) -> tuple[list[str], bool, bool]:
    """``mogrun run A B [--no-deps] [--shard I/N]``: the targets, whether needs
    are ignored, whether it is sharded."""
    words = command.replace("${{ matrix.shard }}", "I").split()
    assert words[:2] == ["mogrun", "run"], command
    targets, no_deps, sharded, skip = [], False, False, False
    for word in words[2:]:
        if skip:
            skip = False
        elif word == "--no-deps":
            no_deps = True
        elif word == "--shard":
            sharded = skip = True
        else:
            assert not word.startswith("-"), command
            targets.append(word)
    return targets, no_deps, sharded


def simulate(flow: dict[str, Any], jobs: dict[str, Job], event: dict[str, Any],
             selected: set[str]) -> None:
    """Run the workflow for ``event`` (which selects ``selected``) and assert the
    property: each mogrun job at most once, exactly the selected ones and their
    needs, every need before its dependant (in the invocation, or in a GitHub
    job the running one waits for)."""
    github = flow["jobs"]
    order = TopologicalSorter({gid: set(body.get("needs", [])) for gid, body in github.items()})
    ran_by: dict[str, str] = {}  # mogrun job -> the GitHub job that ran it
    before: dict[str, set[str]] = {}  # GitHub job -> every GitHub job it waits for
    done: set[str] = set()
    for gid in order.static_order():
        body = github[gid]
        waits = set(body.get("needs", []))
        before[gid] = waits | {g for w in waits for g in before[w]}
        # Every job that ran passed: a need that did not run was skipped. An if: with a
        # status function runs whatever its needs did; any other needs them all passed.
        results = {w: "success" if w in done else "skipped" for w in waits}
        if not fires(body["if"], event, results) or (
                "cancelled()" not in body["if"] and not waits <= done):
            continue
        done.add(gid)
        targets, no_deps, sharded = invocation(step(body, "mogrun run")["name"])
        runs = set(targets) if no_deps else with_needs(jobs, set(targets))
        if sharded:  # mogrun refuses a job and its need in one sharded invocation
            assert not any(set(jobs[name].needs) & runs for name in runs), (gid, event)
        for name in runs:
            assert name not in ran_by, f"{event}: {name} runs in {ran_by[name]} and in {gid}"
            ran_by[name] = gid
        for name in runs:
            for need in jobs[name].needs:
                assert (need in runs and not no_deps) or ran_by.get(need) in before[gid], (
                    f"{event}: {gid} runs {name} without waiting for its need {need}")
    assert set(ran_by) == with_needs(jobs, selected), event
    # A matrix's legs take 1/N of the token's limits each: no other job of its group
    # may run beside them (it would take its own share on top).
    ran = sorted(done)
    for one, other in itertools.combinations(ran, 2):
        if group_of(github[one]) == group_of(github[other]) and (
                "strategy" in github[one] or "strategy" in github[other]):
            assert one in before[other] or other in before[one], (event, one, other)


def group_of(body: dict[str, Any]) -> str:
    """The mogrun group a GitHub job serves: its concurrency group's first part."""
    return body["concurrency"]["group"].split("}}/", 1)[1].split("/", 1)[0]


def every_firing(flow: dict[str, Any], jobs: dict[str, Job]) -> int:
    """Simulate each cron and each dispatch choice; the number of firings."""
    scheduled = [name for name, job in jobs.items() if job.crons]
    crons = sorted({c for job in jobs.values() for c in job.crons})
    assert flow["on"]["schedule"] == [{"cron": c} for c in crons]
    choices = flow["on"]["workflow_dispatch"]["inputs"]["job"]["options"]
    assert choices == ["all", *scheduled]
    for cron in crons:
        simulate(flow, jobs, {"name": "schedule", "schedule": cron},
                 {n for n in scheduled if cron in jobs[n].crons})
    for choice in choices:
        simulate(flow, jobs, {"name": "workflow_dispatch", "job": choice},
                 set(scheduled) if choice == "all" else {choice})
    return len(crons) + len(choices)


SHARED = {
    "prep": Job(crons=("17 6 * * 1",)),
    "x": Job(needs=("prep",), crons=("17 6 * * 1",)),
    "y": Job(needs=("prep",), crons=("17 6 * * 1",)),
}


def test_two_dependants_firing_together_run_their_shared_need_once(project) -> None:
    project.write(toml(SHARED))
    flow, _ = generated(project)
    every_firing(flow, SHARED)
    # The firing (and "all") runs x and y in one invocation, which runs prep once;
    # each job chosen by name runs alone, with its needs.
    runs = {gid: step(body, "mogrun run")["name"] for gid, body in flow["jobs"].items()}
    assert runs == {"prep": "mogrun run prep", "x": "mogrun run x",
                    "x_y": "mogrun run x y", "y": "mogrun run y"}
    assert flow["jobs"]["x_y"]["name"] == "x + y"
    assert flow["jobs"]["x_y"]["if"] == (
        "(github.event_name == 'schedule' && (github.event.schedule == '17 6 * * 1')) || "
        "(github.event_name == 'workflow_dispatch' && (inputs.job == 'all'))")
    assert flow["jobs"]["x"]["if"] == (
        "(github.event_name == 'workflow_dispatch' && (inputs.job == 'x'))")


def test_with_shards_a_sharded_dependant_and_another_share_the_need_once(project) -> None:
    jobs = {**SHARED, "x": Job(needs=("prep",), crons=("17 6 * * 1",), repos=6)}
    project.write("[mogplex]\nsandboxes = 6\n" + toml(jobs))  # 2 a leg: one a run
    flow, _ = generated(project, "--shards", "3")
    every_firing(flow, jobs)
    # The firing's group: prep once, then x's legs, then y (whatever x did: only the
    # need must pass), both without their needs. y beside x's legs would take the
    # token's whole limits on top of theirs.
    group = {gid: (body.get("needs"), step(body, "mogrun run")["name"])
             for gid, body in flow["jobs"].items() if gid.startswith("x_y")}
    assert group == {
        "x_y-needs": (None, "mogrun run prep"),
        "x_y-x": (["x_y-needs"], "mogrun run x --no-deps --shard ${{ matrix.shard }}/3"),
        "x_y-y": (["x_y-needs", "x_y-x"], "mogrun run y --no-deps")}
    assert flow["jobs"]["x_y-x"]["strategy"]["matrix"] == {"shard": [1, 2, 3]}
    assert flow["jobs"]["x_y-y"]["if"].startswith(
        "!cancelled() && needs.x_y-needs.result == 'success' && (")


@st.composite
def task_files(draw: st.DrawFn) -> tuple[dict[str, Job], int]:
    count = draw(st.integers(2, 6))
    names = [f"j{k}" for k in range(count)]  # needs point at earlier names: no cycle
    jobs = {}
    for k, name in enumerate(names):
        jobs[name] = Job(
            needs=tuple(draw(st.lists(st.sampled_from(names[:k]), unique=True, max_size=3)))
            if k else (),
            crons=tuple(draw(st.lists(st.sampled_from(CRONS), unique=True, max_size=2))),
            repos=draw(st.integers(1, 6)))
    if not any(job.crons for job in jobs.values()):
        jobs[names[-1]] = Job(jobs[names[-1]].needs, CRONS[:1], jobs[names[-1]].repos)
    in_file = draw(st.permutations(names))  # the file's order is not the needs' order
    return {name: jobs[name] for name in in_file}, draw(st.sampled_from([1, 2, 3]))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task_files())
def test_every_firing_runs_each_job_once_with_its_needs(project, case) -> None:
    jobs, shards = case
    project.write(toml(jobs))
    result = project.run("ci", "github", "--shards", str(shards))
    assert result.code == 0, result
    flow = load_yaml((project.root / WORKFLOW).read_text(encoding="utf-8"))
    every_firing(flow, jobs)


def test_a_tangle_of_needs_gives_a_valid_workflow(project) -> None:
    """actionlint and the schema, on a file where groups, shared needs and a
    matrix meet (the property test above skips them: they are slow)."""
    jobs = {
        "a": Job(crons=("29 6 * * 1",), repos=6),
        "b": Job(needs=("a",), crons=("17 6 * * 1",)),
        "c": Job(needs=("a",), crons=("17 6 * * 1", "41 2 * * *"), repos=6),
        "d": Job(needs=("c",)),
        "e": Job(needs=("d", "b"), crons=("41 2 * * *",)),
    }
    project.write(toml(jobs))
    for shards in ("1", "3"):
        project.run("ci", "github", "--shards", shards)
        every_firing(assert_valid_workflow(project.root / WORKFLOW), jobs)
