"""The ``needs`` graph: unknown jobs, cycles (reported with their path) and the
topological order of a set of requested jobs."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from mogrun.errors import TaskFileError, UsageError
from mogrun.taskfile.parse import TaskFile


def needs_of(taskfile: TaskFile, name: str) -> list[str]:
    """The jobs ``name`` needs, as written (an invalid value counts as none)."""
    return [need for _, need in indexed_needs(taskfile, name)]


def indexed_needs(taskfile: TaskFile, name: str) -> list[tuple[int, str]]:
    """``needs_of`` with each one's index in the array, which locates a problem
    of one need at its own string."""
    needs = taskfile.jobs.get(name, {}).get("needs", [])
    if not isinstance(needs, list):
        return []
    return [(index, need) for index, need in enumerate(needs) if isinstance(need, str)]


def graph_errors(taskfile: TaskFile, meant: Collection[str] = ()) -> list[TaskFileError]:
    """Every unknown need, then every distinct cycle of the needs graph. A need
    of a name ``meant`` by a header written without its quotes is not said again
    (``validation.misdotted_jobs``)."""
    errors = []
    for name in taskfile.jobs:
        for index, need in indexed_needs(taskfile, name):
            if need not in taskfile.jobs and need not in meant:
                errors.append(taskfile.error(
                    f'job "{name}" needs unknown job "{need}"', "jobs", name, "needs", index,
                    job=name, context=unknown_need_hint(need, taskfile, meant)))
    for cycle in find_cycles(taskfile):
        index = next(i for i, need in indexed_needs(taskfile, cycle[0]) if need == cycle[1])
        errors.append(taskfile.error("needs cycle: " + " -> ".join(cycle),
                                     "jobs", cycle[0], "needs", index, job=cycle[0]))
    return errors


def unknown_need_hint(need: str, taskfile: TaskFile, meant: Collection[str]) -> list[str]:
    """The job a need was likely meant to name. The first part of a header written
    without its quotes (``needs = ["release"]`` beside ``[jobs.release.v1]``, which
    ``list`` shows as a job "release") gets that header's quoting hint, and the
    name to need; the whole name it meant (``add --needs release.v1``; ``check``
    says that one at the header) the hint alone."""
    from mogrun.taskfile.schema import closest, quoting_hint

    if need in meant:  # the very name that header meant (``add --needs``): its hint
        job = max((name for name in taskfile.jobs if need.startswith(name + ".")), key=len)
        return [quoting_hint(job, tuple(need[len(job) + 1:].split(".")))]
    dotted = sorted(name for name in meant if name.startswith(need + "."))
    if dotted:
        rest = tuple(dotted[0][len(need) + 1:].split("."))
        return [quoting_hint(need, rest), f'Then need it as "{dotted[0]}".']
    hint = closest(need, taskfile.jobs)
    return [f'did you mean "{hint}"?'] if hint else []


def find_cycles(taskfile: TaskFile) -> list[list[str]]:
    """Each cycle once, as a path that starts and ends with the same job.

    Depth-first without recursion and linear in jobs + needs, so a needs chain
    of any length is fine."""
    cycles: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    done: set[str] = set()
    for start in taskfile.jobs:
        if start in done:
            continue
        path, pending = [start], [iter(needs_of(taskfile, start))]
        on_path = {start}  # `need in path` on the list would make a long chain quadratic
        while pending:
            need = next(pending[-1], None)
            if need is None:
                on_path.discard(path[-1])
                done.add(path.pop())
                pending.pop()
            elif need in on_path:
                cycle = [*path[path.index(need):], need]
                if frozenset(cycle) not in seen_sets:
                    seen_sets.add(frozenset(cycle))
                    cycles.append(cycle)
            elif need not in done and need in taskfile.jobs:
                path.append(need)
                on_path.add(need)
                pending.append(iter(needs_of(taskfile, need)))
    return cycles


def check_job_names(taskfile: TaskFile, names: Sequence[str]) -> None:
    """``UsageError`` (exit 2) for a requested job that does not exist."""
    from mogrun.taskfile.schema import closest

    for name in names:
        if name not in taskfile.jobs:
            job, colon, _ = name.partition(":")
            hint = closest(name, taskfile.jobs)
            if colon and job in taskfile.jobs:  # a run of it, as status and logs take one
                context = [f'"{name}" names one run of job "{job}": this command takes job '
                           f'names ("{job}"); status, logs, cancel and history --job take a '
                           "run"]
            else:
                context = [f'did you mean "{hint}"?'] if hint else _outer_hint(taskfile, name)
            raise UsageError(f'unknown job "{name}" in {taskfile.path.name}',
                             context=[*context, jobs_line(taskfile)])


def _outer_hint(taskfile: TaskFile, name: str) -> list[str]:
    """Where ``name`` is a job after all: a task file further up, which this nested
    project's own file hides (the search for a task file stops at the first)."""
    from mogrun.taskfile.discovery import outer_task_file_with_job
    from mogrun.textsafety import shell_word

    outer = outer_task_file_with_job(taskfile.path, name)
    if outer is None:
        return []
    return [f'"{name}" is a job of {outer}, an outer project\'s task file that the '
            f"nearer {taskfile.path.name} hides: -f {shell_word(str(outer))} names it"]


def jobs_line(taskfile: TaskFile) -> str:
    """The task file's jobs, as a message naming an unknown one lists them (not
    known while it does not parse: "(none)" read as a file with no job)."""
    if taskfile.unread:
        return "Jobs: not known (the task file cannot be read: mogrun check says why)"
    return "Jobs: " + (", ".join(taskfile.jobs) or "(none)")


def job_order(taskfile: TaskFile, names: Sequence[str], with_needs: bool = True) -> list[str]:
    """``names`` (plus their needs, unless ``with_needs`` is false), needs first.

    Depth-first without recursion, so a needs chain of any length is fine."""
    check_job_names(taskfile, names)
    order: list[str] = []
    placed: set[str] = set()
    for name in names:
        stack, expanding = [(name, False)], set()
        while stack:
            current, ready = stack.pop()
            if current in placed:
                continue
            if ready or not with_needs:
                placed.add(current)
                order.append(current)
            elif current not in expanding:
                expanding.add(current)
                stack.append((current, True))
                stack += [(need, False) for need in reversed(needs_of(taskfile, current))]
    return order
