"""Property test: task files people could plausibly write — every key with valid
and invalid values, comments anywhere (the last line too), blank lines at the
end, CRLF, a UTF-8 BOM, tabs, unicode, files made by `init`/`add` then edited —
never crash `check`, `list` or `show`: exit 0 or 2, one clear `Error:` headline
per problem, never a traceback."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LONG = "x" * 300
VALUES: dict[str, list[str]] = {
    "description": ['"Fix the build"', '"héllo ✓ 日本"', "5"],
    "repo": ['"acme/api"', '["acme/api", "acme/web"]', '"{{ team }}/api"', '""', "[]", "7",
             '["a/b", "A/B"]', '"{{ env.REPO }}"', '"a b"', '"{{ repo }}"'],
    "prompt": ['"Fix it."', '"""\nMulti\n  line {{ team }}\n"""', '""', '"{{ tem }}"', '"{{"',
               '"{{{{ literal"', '"ünïcödé 🎉 {{ job }}"', "3", '"{{ env.MOGPLEX_API_KEY }}"',
               "'''raw {{ date }}'''", '"""Say \\"""hi\\""" please.\n"""',
               '"""ends in a quote""""', "'''it''s raw, C:\\dir\\'''",
               '"""one \\\n  two"""', '"no closing quote',
               # A default written with escaped quotes, after an unknown name.
               '"Hi {{ tema }}, see {{ url | default(\\"none\\", \\"x\\") }}"'],
    "prompt_file": ['"prompts/p.md"', '"missing.md"', '"../up.md"', '"/etc/passwd"',
                    f'"{LONG}.md"', '"prompts"', "1"],
    "harness": ['"codex"', '"claude-code"', '"gpt"', "true", "2026-01-01T00:00:00Z"],
    "timeout": ['"25m"', '"90s"', "30", '"soon"', "0", '"-1s"', "true", '"1e400s"', "1e300",
                '"99999999h"', '"24h"'],
    "capacity_wait": ['"45m"', "1e12", '"168h"', "07:32:00"],
    "on_timeout": ['"cancel"', '"detach"', '"later"'],
    "create_branch": ["true", "false", '"yes"'],
    "branch": ['"feat/x"', '"main"', '"a..b"', '"-x"', '"{{ job }}-{{ date }}"', '"x.lock"'],
    "base_branch": ['"main"', '"dev"', '"bad branch"'],
    "root": ['"src"', '"../x"', '""', '"/abs"'],
    "idempotency_key": ['"k-{{ date }}"', '""', f'"{LONG}"', '"ключ"', '"{{ repo }}"'],
    "needs": ['["other"]', '["nope"]', '"other"', "[1]", '["j0"]'],
    "retry": ["{ attempts = 3 }", "{ attempts = 0 }", '{ max_delay = "1m" }', '"often"'],
    "gates": ['{ status = ["success"] }', '{ max_duration = "never" }', "{ nope = 1 }"],
    "notify": ['[{ webhook = "https://hooks.example/x", on = ["failed"] }]',
               '[{ webhook = "{{ env.HOOK }}" }]', '[{ slack = 5 }]', '"everyone"'],
    "tmeout": ['"25m"'],
    "token": ['"mog_abc"'],
}
SETTINGS = ['url = "https://mogplex.com"', 'url = "http://evil.example"',
            "starts_per_minute = 5", "starts_per_minute = 0", 'plugins = ["nope-plugin"]',
            f'plugins = ["{LONG}.py"]', 'plugins = ["../x.py"]', "colour = 1"]
VARS = ['team = "platform"', "n = 3", "flag = true", "bad = [1]", 'job = "x"',
        'emoji = "🎉"']
COMMENTS = ["# a comment", "#", "# [jobs.fake]", "# ünïcödé ✓", "#\ttabbed"]
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@st.composite
def key_lines(draw: st.DrawFn, min_size: int = 0) -> list[str]:
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=min_size, max_size=6,
                         unique=True))
    lines = []
    for key in keys:
        line = f"{key} = {draw(st.sampled_from(VALUES[key]))}"
        if draw(st.booleans()) and not line.endswith(('"""', "'''")):
            line += "  " + draw(st.sampled_from(COMMENTS))  # a trailing comment
        lines.append(line)
    return lines


@st.composite
def task_files(draw: st.DrawFn) -> str:
    """A task file as text, before line endings and encoding."""
    blocks: list[list[str]] = []
    if draw(st.booleans()):
        blocks.append(["[mogplex]", *draw(st.lists(st.sampled_from(SETTINGS), max_size=2))])
    if draw(st.booleans()):
        blocks.append(["[defaults]", *draw(key_lines())])
    if draw(st.booleans()):
        blocks.append(["[vars]", *draw(st.lists(st.sampled_from(VARS), max_size=3))])
    names = draw(st.lists(st.sampled_from(  # a job may be named like a key or a command
        ["j0", "other", "lint-fix", "list", "ünï", "a b", "needs", "repo", "release.v1"]),
        max_size=3,
        unique=True))
    for name in names:
        header = f'[jobs."{name}"]' if draw(st.booleans()) or " " in name else f"[jobs.{name}]"
        blocks.append([header, *draw(key_lines(min_size=1))])
    if blocks and draw(st.integers(0, 5)) == 0:  # a line pasted twice: a key or a header
        block = draw(st.sampled_from(blocks))
        block.append(draw(st.sampled_from(block)))
    lines: list[str] = []
    for block in blocks:
        for line in block:
            if draw(st.integers(0, 5)) == 0:
                lines.append(draw(st.sampled_from([*COMMENTS, ""])))
            indent = draw(st.sampled_from(["", "", "  ", "\t"]))
            lines.append(indent + line if not line.startswith('"""') else line)
        lines.append("")
    ending = draw(st.sampled_from(["", "\n", "\n\n", "# the last line is a comment",
                                   "# last\n", "\t\n"]))
    return "\n".join(lines) + ending


def encode(text: str, crlf: bool, bom: bool) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def assert_clean(result, many: bool = False) -> None:
    """Exit 0 or 2, no traceback, and (unless ``many``) at most one headline."""
    assert result.code in (0, 2), result
    assert "Traceback" not in result.err + result.out, result
    if result.code == 2:
        assert result.err.startswith("Error: "), result
    if not many:
        assert len(result.errors) <= 1, result
        return
    counted = re.search(r"^(\d+) problems? in ", result.err, re.MULTILINE)
    if result.code == 2 and counted:  # check lists every problem, each with one headline
        assert len(result.errors) == int(counted.group(1)), result


def assert_in_file_order(result) -> None:
    """check lists every problem in file order (docs/taskfile.md): show, which
    stops at the first, names the earliest."""
    places = [(int(line), int(column)) for line, column in
              re.findall(r"^  --> .*:(\d+):(\d+)$", result.err, re.MULTILINE)]
    assert places == sorted(places), result


def assert_located(project, result) -> None:
    """Each error that names a key points at that key; one that names only a job
    and points at a table header points at the job's name in it."""
    lines = project.path.read_bytes().decode("utf-8-sig").split("\n")
    if result.err.startswith("Error: invalid TOML: "):  # tomllib's words, but always located
        assert re.match(r"  --> .*:\d+:\d+$", result.err.splitlines()[1]), result
        assert "('" not in result.err.splitlines()[0], result  # no Python tuples
        return  # the one error; a key it names ("the dotted key ...") may be elsewhere
    for block in result.err.split("\nError: "):
        where = re.search(r"^  --> .*:(\d+):(\d+)$", block, re.MULTILINE)
        headline = block.partition("\n")[0]
        names = (re.findall(r'key "((?:[^"\\]|\\.)*)"', headline)
                 or re.findall(r'job "((?:[^"\\]|\\.)*)"', headline))
        if not where or not names or "secret-looking" in headline:
            continue
        line = lines[int(where.group(1)) - 1]
        at = line[int(where.group(2)) - 1:]
        if 'key "' in headline or line.lstrip().startswith("["):
            # A plugin table's problem points at its sub-key (``retry.attempts``).
            subs = re.findall(rf"{re.escape(names[0])}(?:\[\d+\])?\.(\w+)", headline)
            subs += re.findall(r'setting "(\w+)"', headline)  # an unknown one: at itself
            # A template problem points at the template, on the line of its key (a
            # table's, a dotted key's, an inline table's).
            before = line[:int(where.group(2)) - 1]
            keyed = [k for k in (names[0], *subs) if re.search(
                rf'(?:^|[\s.{{,])"?{re.escape(k)}"?[ \t]*=', before)]
            in_value = at.startswith("{{") and bool(keyed)
            # An entry of a list (a repo of a fan-out, a schedule, a need, a notify's on;
            # one that is no string) points at the entry, on its line.
            in_list = at[:1] in ("'", '"') or (
                names[0] in ("repo", "schedule", "needs") and "must list" in headline)
            # An element of an array of tables points at its [[header]], as one of an
            # inline array at its {.
            in_tables = at.startswith("[[") and f".{names[0]}" in line.replace(" ", "")
            assert in_value or in_list or in_tables or at.startswith(
                (names[0], f'"{names[0]}"', *subs)), result


def assert_commands_clean(project) -> None:
    checked = project.run("check", plugins=True)
    assert_clean(checked, many=True)
    assert_located(project, checked)
    assert_in_file_order(checked)
    # [jobs.release.v1] is one problem (quote the name), never a job "release" too.
    assert 'job "release" has no' not in checked.err, checked
    assert "+00:00" not in checked.err and "e+" not in checked.err, checked  # as written
    listed = project.run("--json", "list")
    assert_clean(listed)
    assert_clean(project.run("--no-plugins", "list"))
    jobs = re.findall(r'^\{"job": "((?:[^"\\]|\\.)*)"', listed.out, re.MULTILINE)
    for job in jobs[:2]:
        assert_clean(project.run("show", job.encode().decode("unicode_escape"), plugins=True))


@FAST
@given(task_files(), st.booleans(), st.booleans())
def test_hand_written_task_files(project, text: str, crlf: bool, bom: bool) -> None:
    (project.root / "prompts").mkdir(exist_ok=True)
    (project.root / "prompts" / "p.md").write_text("Do {{ job }}.\n", encoding="utf-8")
    project.path.write_bytes(encode(text, crlf, bom))
    assert_commands_clean(project)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["j1", "j2", "hello", "x3"]),
                          st.sampled_from(["acme/api", "a/b", "Acme/API"]),
                          st.sampled_from(["Fix it.", "Line one\nline two", "{{ team }} ✓",
                                           "{{ tem }}", "{{{{ x", "a\r\nb"]),
                          st.sampled_from([[], ["--schedule", "17 6 * * 1"],
                                           ["--schedule", "0 3 * * *", "--schedule", "0 3 * * 1"],
                                           ["--schedule", "* * * * *"], ["--timeout", "1h30m"],
                                           ["--timeout", "soon"], ["--harness", "claude-code"],
                                           ["--harness", "gpt", "--timeout", "90"],
                                           ["--branch", "fix/{{ date }}", "--create-branch"],
                                           ["--base-branch", "bad branch"],
                                           ["--root", "services/api", "--idempotency-key",
                                            "k-{{ job }}-{{ date }}"],
                                           ["--capacity-wait", "45m", "--on-timeout", "detach"],
                                           ["--on-timeout", "later"], ["--root", "../up"]])),
                max_size=3),
       key_lines(), st.booleans())
def test_files_written_by_init_and_add_then_edited(project, adds, edits, crlf: bool) -> None:
    project.path.unlink(missing_ok=True)
    assert project.run("init").code == 0
    if crlf:
        project.path.write_bytes(project.path.read_bytes().replace(b"\n", b"\r\n"))
    for name, repo, prompt, options in adds:
        assert_clean(project.run("add", name, "--repo", repo, "--prompt", prompt, *options))
    newline = "\r\n" if crlf else "\n"
    edited = newline.join(["", "# edited by hand", *edits, "# done", ""])
    with project.path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(edited)
    assert_commands_clean(project)


# Files check accepts, as people write them: vars and defaults, fan-outs, needs on
# earlier jobs, schedules, gates, retry, templates, comments, any key order.
GOOD: dict[str, list[str]] = {
    "timeout": ['"25m"', '"90s"', "30"], "harness": ['"codex"', '"claude-code"'],
    "branch": ['"feat/x"', '"mogrun/{{ job }}-{{ date }}"'], "create_branch": ["true", "false"],
    "idempotency_key": ['"k-{{ job }}-{{ date }}"'], "on_timeout": ['"detach"', '"cancel"'],
    "schedule": ['"17 6 * * 1"', '["0 */6 * * *", "30 2 * * *"]', '"*/5 * * * *"'],
    "gates": ['{ status = ["success"] }', '{ max_duration = "20m" }'],
    "retry": ["{ attempts = 3 }", '{ stall_timeout = "5m" }'],
    "description": ['"Fix the build"', '"héllo ✓ 日本 \\" quote"', '""'],
    "root": ['"services/api"'], "base_branch": ['"main"', '"release/1.x"'],
}
GOOD_REPOS = ['"acme/api"', '["acme/api", "acme/web"]', '"{{ team }}/api"',
              '["acme/api", "{{ team }}/web"]', '"c7198fbc-1945-4717-85d8-eb78866b4e79"']
GOOD_PROMPTS = ['"Fix it."', '"""\nMulti\n  line {{ team }} {{ repo }}\n"""',
                "'''raw {{ date }}'''", '"ünïcödé 🎉 {{ job }}"', '"{{{{ literal"',
                '"{{ env.X | default(\'d\') }}"']


@st.composite
def accepted_files(draw) -> str:
    blocks = [['[vars]', 'team = "platform"  # who owns it']]
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(["timeout", "harness", "retry", "base_branch"]),
                             unique=True, max_size=3))
        blocks.append(["[defaults]", *(f"{k} = {draw(st.sampled_from(GOOD[k]))}" for k in keys)])
    names = draw(st.lists(st.sampled_from(["a", "lint-fix", "needs", "repo", "list", "x_1"]),
                          min_size=1, max_size=4, unique=True))
    for i, name in enumerate(names):
        lines = [f"repo = {draw(st.sampled_from(GOOD_REPOS))}",
                 f"prompt = {draw(st.sampled_from(GOOD_PROMPTS))}"]
        lines += [f"{k} = {draw(st.sampled_from(GOOD[k]))}"
                  for k in draw(st.lists(st.sampled_from(sorted(GOOD)), unique=True, max_size=4))]
        if i and draw(st.booleans()):
            lines.append(f'needs = ["{names[draw(st.integers(0, i - 1))]}"]')
        lines = [line for line in draw(st.permutations(lines))
                 for line in (draw(st.sampled_from(["", "# note"])), line) if line]
        blocks.append([f'[jobs."{name}"]' if draw(st.booleans()) else f"[jobs.{name}]", *lines])
    ending = draw(st.sampled_from(["\n", "\n\n\n", "", "\n# end"]))
    return "\n\n".join("\n".join(block) for block in blocks) + ending


@FAST
@given(accepted_files(), st.booleans(), st.booleans(),
       st.sampled_from([["show", "--json"], ["run", "--dry-run"],
                        ["run", "-n", "--no-deps", "--shard", "2/3"],
                        ["ci", "github", "-o", "wf.yml"]]))
def test_whatever_check_accepts_every_reading_command_takes(project, text: str, crlf: bool,
                                                            bom: bool, command: list[str]) -> None:
    project.path.write_bytes(encode(text, crlf, bom))
    checked = project.run("check")
    assert checked.code == 0, (checked, text)
    names = re.findall(r'^\[jobs\."?([^"\]]+)"?\]', text, re.MULTILINE)
    if "--shard" in command:  # one job: a leg cannot wait for another job's runs
        names = names[-1:]
    result = project.run(*command, *(names if command[0] != "ci" else []))
    assert "Traceback" not in result.err, result
    if command[0] == "ci" and "schedule" not in text:
        assert result.code == 2 and "has a schedule" in result.err, result
    elif command[0] == "ci":
        assert result.code == 0 and "cron:" in (project.root / "wf.yml").read_text(), result
    else:  # a leg may hold none of the runs, and says so
        assert result.code == 0 and (result.out or "nothing to do" in result.err), result
