"""Bundled plugin: ``mogrun run --junit PATH`` writes a JUnit XML report.

One ``<testcase>`` per run (classname = job, name = repo, time = duration),
so CI dashboards (GitLab, Jenkins, GitHub test reporters) show each run as a
test. A failed, cancelled, timed-out or gate-failed run carries a
``<failure>`` whose message is its outcome, status and failing gate reasons;
a skipped run is ``<skipped/>``; a run whose result is an error (it never
started, or mogrun lost the API while following it: its end is unknown) is
``<error>``. The path comes from ``config.options["junit"]`` in
``mogrun_session_finished``, so the plugin keeps no state between sessions.

Every attribute and text is written through one pass (``_safe``) that masks
the invocation's secrets (a repo named from ``env.*`` is a test name here)
and replaces what XML 1.0 cannot hold (a control character in a run id or
in agent text), so the report always parses and never leaks.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mogrun.plugin import Outcome, UsageError, hookimpl, mask, write_file

if TYPE_CHECKING:  # imported where a report is made: `check` and `show` load this plugin too
    import xml.etree.ElementTree as ET

OPTION = "junit"
SUITE = "mogrun"
# Characters XML 1.0 cannot hold at all; agent text may contain them. A pattern that
# re compiles on first use (a report): check and show load this plugin too.
_NOT_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"


def clean(text: str) -> str:
    """Agent text made safe for XML: forbidden characters become U+FFFD."""
    return re.sub(_NOT_XML, "\ufffd", text)


def failure_message(result: Any) -> str:
    """``outcome (status X): gate reasons`` — what a dashboard shows first."""
    text = result.outcome
    if result.status and result.status != result.outcome:
        text += f" (status {result.status})"
    reasons = [f"{g.gate}: {g.reason}" for g in result.gates if not g.passed]
    if not reasons and result.message:
        reasons = [result.message]
    return f"{text}: {'; '.join(reasons)}" if reasons else text


# A run started with --detach: its result is not known, so it neither passes nor fails.
DETACHED = "detached: started, not followed to its end"


def testcase(result: Any) -> ET.Element:
    import xml.etree.ElementTree as ET

    case = ET.Element("testcase", classname=result.job, name=result.repo,
                      time=f"{result.duration or 0.0:.3f}")
    props = [(name, value) for name, value in (("run_id", result.run_id),
                                                 ("status", result.status)) if value]
    if props:  # first, as pytest writes them
        properties = ET.SubElement(case, "properties")
        for name, value in props:
            ET.SubElement(properties, "property", name=name, value=str(value))
    if result.outcome == Outcome.SKIPPED:
        ET.SubElement(case, "skipped", message=result.message or "skipped")
    elif result.outcome == Outcome.DETACHED:  # started, never judged: no pass, no failure
        ET.SubElement(case, "skipped", message=DETACHED)
    elif result.outcome == Outcome.ERROR:
        ET.SubElement(case, "error", message=failure_message(result), type="error")
    elif Outcome(result.outcome).failing:
        failure = ET.SubElement(case, "failure", message=failure_message(result),
                                type=result.outcome)
        failure.text = details(result)
    return case


def details(result: Any) -> str:
    lines = [f"run {result.run_id or '-'} of {result.job} on {result.repo}: {result.outcome}"]
    lines += [f"gate {g.gate}: {'passed' if g.passed else 'FAILED'} - {g.reason}"
              for g in result.gates]
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)


def report(results: Iterable[Any], secrets: Iterable[str] = ()) -> ET.ElementTree:
    """The whole document: one suite, one case per run, secrets masked."""
    import xml.etree.ElementTree as ET

    results = list(results)
    counts = {
        "tests": len(results),
        "failures": sum(1 for r in results if Outcome(r.outcome).failing and r.outcome not in
                        (Outcome.SKIPPED, Outcome.ERROR)),
        "errors": sum(1 for r in results if r.outcome == Outcome.ERROR),
        "skipped": sum(1 for r in results if r.outcome in (Outcome.SKIPPED, Outcome.DETACHED)),
    }
    total = sum(r.duration or 0.0 for r in results)
    attrib = {"name": SUITE, "time": f"{total:.3f}", **{k: str(v) for k, v in counts.items()}}
    root = ET.Element("testsuites", attrib)
    suite = ET.SubElement(root, "testsuite", attrib)
    suite.extend(testcase(r) for r in results)
    _safe(root, tuple(secrets))
    return ET.ElementTree(root)


def _safe(root: ET.Element, secrets: tuple[str, ...]) -> None:
    """Mask and make XML-safe every attribute value and text of the tree."""
    for element in root.iter():
        element.attrib = {name: clean(mask(str(value), secrets))
                          for name, value in element.attrib.items()}
        if element.text:
            element.text = clean(mask(element.text, secrets))


@hookimpl
def mogrun_add_options(register: Callable[..., None]) -> None:
    register(OPTION, help="Write a JUnit XML report of the runs to PATH.", metavar="PATH")


@hookimpl
def mogrun_configure(config: Any) -> None:
    """Refuse an unusable path before any run starts, not after they all finished."""
    path = (config.options or {}).get(OPTION)
    if path is None:
        return
    if not path.strip():  # `--junit "$REPORT"` with REPORT unset: no report, said
        raise UsageError("--junit needs a file path, got an empty one")
    if path.strip() == "-":  # stdout carries the run's own output (or its --json lines)
        raise UsageError("--junit -: the report cannot go to standard output; give a file "
                         "path (e.g. --junit mogrun-junit.xml)")
    if path.endswith(("/", os.sep)):
        raise UsageError(f"--junit {path}: names a directory; give a file path "
                         f"(e.g. {path.rstrip('/' + os.sep)}/junit.xml)")
    cwd = Path(config.cwd or ".")  # the invocation's directory, not the process's
    target = cwd / path
    try:
        if target.is_symlink():
            # A link committed at the report's path (by a pull request) had the report
            # written wherever it leads: the CI runner's own files, past the checkout.
            raise UsageError(f"--junit {path}: is a symlink (to {os.readlink(target)}); the "
                             "report is written through no link: remove it, or give "
                             "another path")
        linked = _linked_folder(target, cwd)
        if linked is not None:
            raise UsageError(f"--junit {path}: its folder {linked} is a symlink (to "
                             f"{os.readlink(cwd / linked)}); the report is written through "
                             "no link: remove it, or give another path")
        if target.is_dir():
            raise UsageError(f"--junit {path}: is a directory; give a file path")
        if target.exists() and not target.is_file():
            # The report is renamed over the path: /dev/null (as root) would be replaced.
            raise UsageError(f"--junit {path}: is not a regular file (a device, a FIFO); "
                             "give a file path")
        if target.is_file() and not _a_report(target):
            # `--junit mogplex.toml` replaced the task file (exit 0), and a path under
            # .mogrun/ the run history: only a report, here before, is written over.
            raise UsageError(f"--junit {path}: is a file that is not a JUnit report; mogrun "
                             "writes over only a report (one it wrote before): give "
                             "another path")
        problem = unwritable(target)
    except OSError as exc:  # a name too long for the file system, say
        raise UsageError(f"--junit {path}: cannot write there ({exc.strerror or exc})") \
            from None
    if problem:
        raise UsageError(f"--junit {path}: cannot write there ({problem})")


def _linked_folder(target: Path, cwd: Path) -> Path | None:
    """The first folder of ``target`` below the working directory that is a symlink,
    as typed from there: a checkout can commit one (``reports`` linked past it put
    the report, and the folders made for it, wherever it leads). The folders above
    are the machine's own (macOS's ``/tmp`` is a link), and ``..`` is not folded
    away (``reports/../x.xml`` goes through ``reports`` too)."""
    try:
        below = target.relative_to(cwd)
    except ValueError:  # an absolute path elsewhere: chosen by the workflow, not the checkout
        return None
    for depth in range(1, len(below.parts)):
        folder = Path(*below.parts[:depth])
        if (cwd / folder).is_symlink():
            return folder
    return None


def _a_report(target: Path) -> bool:
    """Whether ``target`` is empty or XML (a report this plugin, or another tool, wrote
    before): what a CI step that writes its report to one path each time finds."""
    with target.open("rb") as handle:
        start = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    return not start or start.startswith((b"<?xml", b"<testsuite"))


def unwritable(target: Path) -> str | None:
    """Why ``target`` could not be written at the end: its folder is made now (the
    report would make it anyway) and a file tried in it, since permission bits say
    nothing to root, nor of /proc. ``OSError`` for a path the system refuses."""
    import tempfile

    folder = target.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if target.exists() and not os.access(target, os.W_OK):
        return f"{target} is not writable"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{folder} cannot be made: {exc.strerror or exc}"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name[:100]}.",
                                         suffix=".tmp"):
            pass
    except OSError as exc:  # /proc is a folder, and says ENOENT of a file made in it
        return f"no file can be made in {folder}: {exc.strerror or exc}"
    return None


@hookimpl
def mogrun_session_finished(config: Any, results: tuple[Any, ...],
                            secrets: frozenset[str]) -> None:
    path = (config.options or {}).get(OPTION)
    if not path:
        return
    import xml.etree.ElementTree as ET

    tree = report(results, secrets)
    ET.indent(tree)
    target = Path(config.cwd or ".") / path
    # Whole or not at all: a CI step that uploads the report never reads half of one.
    document = io.BytesIO()
    tree.write(document, encoding="utf-8", xml_declaration=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(target, document.getvalue())
    except OSError as exc:  # checked at the start; the disk or the folder changed since
        raise UsageError(f"--junit {path}: the report could not be written "
                         f"({exc.strerror or exc})") from None
