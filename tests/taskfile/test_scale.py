"""The task-file cores are linear: placing errors, walking the needs graph and
resolving a chain cost O(size), so a 10,000-job file with an error is as quick
to check as a clean one (bench/scale.py measures the CLI end to end).

Each test times a size and ``factor`` times that size in CPU seconds (other
processes' load does not count) and allows a ratio of ``factor`` x 2.5:
linear is ``factor``, quadratic its square (4: 16; 8: 64). The small walks
take a few milliseconds, where the caches alone move a ratio by half: those
compare 8 times the size, so a loaded machine stays far from the bound.
"""

from __future__ import annotations

import datetime
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mogrun.taskfile import load_task_file, resolve_jobs
from mogrun.taskfile.graph import find_cycles, job_order
from mogrun.taskfile.positions import locate, scanned, source_line
from mogrun.taskfile.templates import TemplateClock

CLOCK = TemplateClock.at(datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC))


def chain_text(size: int) -> str:
    """Jobs j0 .. j{size-1}, each needing the next one (the walk's worst order)."""
    jobs = [f'[jobs.j{i}]\nrepo = "acme/api"\nprompt = "x"\n'
            + (f'needs = ["j{i + 1}"]\n' if i < size - 1 else "") for i in range(size)]
    return "\n".join(jobs) + "\n# the end\n"


def cpu_seconds(work: Callable[[], object]) -> float:
    """The best of five: this thread's CPU (not the other test workers' on the same
    cores), the collector off (a collection landing in one size only skewed the
    ratio past 10 under a loaded machine's full suite)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            began = time.thread_time()
            work()
            best = min(best, time.thread_time() - began)
    finally:
        gc.enable()
    return best


def assert_linear(make: Callable[[int], Callable[[], object]], size: int = 2_000,
                  factor: int = 4) -> None:
    small, large = make(size), make(factor * size)
    ratio = cpu_seconds(large) / max(cpu_seconds(small), 1e-4)
    assert ratio < 2.5 * factor, f"{factor}x the size cost {ratio:.1f}x the time"


def loaded(tmp_path: Path, size: int):
    path = tmp_path / f"chain{size}.toml"
    path.write_text(chain_text(size), encoding="utf-8")
    return load_task_file(path)


def test_locating_every_key_and_quoting_every_line_is_linear() -> None:
    def make(size: int) -> Callable[[], object]:
        text = chain_text(size)

        def work() -> None:
            scanned.cache_clear()
            for i in range(0, size, 7):
                locate("f", text + " " * (i % 2), ("jobs", f"j{i}", "needs"))
                source_line(text, 4 * i + 1)
        return work
    assert_linear(make, size=500, factor=8)


def test_finding_cycles_and_ordering_a_long_chain_is_linear(tmp_path) -> None:
    def make(size: int) -> Callable[[], object]:
        taskfile = loaded(tmp_path, size)
        return lambda: (find_cycles(taskfile), job_order(taskfile, ["j0"]))
    assert_linear(make, factor=8)  # a few ms at 2,000 jobs: see the module's docstring


def test_resolving_a_long_chain_is_linear(tmp_path) -> None:
    def make(size: int) -> Callable[[], object]:
        taskfile = loaded(tmp_path, size)
        return lambda: resolve_jobs(taskfile, ["j0"], key_specs={}, sets={}, env={},
                                    clock=CLOCK)
    assert_linear(make, size=1_000)


def test_a_long_needs_chain_is_no_recursion_error(project) -> None:
    # check and show walked the needs graph recursively: a chain of 1,500 jobs was a
    # RecursionError traceback.
    jobs = ['[jobs.j0]\nrepo = "acme/api"\nprompt = "x"\n']
    jobs += [f'[jobs.j{i}]\nrepo = "acme/api"\nprompt = "x"\nneeds = ["j{i - 1}"]\n'
             for i in range(1, 1500)]
    project.write("".join(jobs))
    assert project.run("check").code == 0
    shown = project.run("--json", "show", "j1499")
    assert shown.code == 0, shown.err[-300:]
    assert [json.loads(line)["job"] for line in shown.out.splitlines()] == [
        f"j{i}" for i in range(1500)]
    project.write("".join(jobs).replace('prompt = "x"\n', 'prompt = "x"\nneeds = ["j1499"]\n', 1))
    result = project.run("check")
    assert result.code == 2
    assert result.err.startswith("Error: needs cycle: j0 -> j1499 -> j1498")


@pytest.mark.parametrize("template", [
    "{{{{ nope{i} }}}}",
    "{{{{ taem }}}}",  # one template again and again: its caret found the nth by n finds
    "{{{{ ",
])
def test_checking_many_template_problems_is_linear(tmp_path, template) -> None:
    """Each problem quoted its whole line afresh and was compared with every one
    recorded before it: 1,000 on one line took half a minute, 5,000 ten. The
    same template 8,000 times on one line still took 6 s, 30,000 over a minute."""
    from mogrun.taskfile.checking import validate
    from mogrun.taskfile.templates import _places

    def make(size: int) -> Callable[[], object]:
        path = tmp_path / f"many{size}.toml"
        path.write_text('[jobs.a]\nrepo = "acme/api"\nprompt = "'
                        + " ".join(template.format(i=i) for i in range(size)) + '"\n')
        taskfile = load_task_file(path)

        def work() -> None:
            scanned.cache_clear()
            source_line.cache_clear()
            _places.cache_clear()
            assert len(validate(taskfile, {}, {}).errors) == size
        return work
    # 1,000 and 4,000: at 500 and 2,000 the repeated template's quadratic caret still
    # came in under the bound (7.7x), and the test could not fail on it.
    assert_linear(make, size=1_000)
