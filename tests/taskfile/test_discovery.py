"""Which task file is used (-f, MOGRUN_FILE, searching up), and clear errors
for names that cannot be one."""

from __future__ import annotations

import pytest


def test_a_task_file_path_that_is_a_directory_says_so(project, monkeypatch) -> None:
    # It used to say "does not exist" about a directory that plainly does.
    (project.root / "ci").mkdir()
    monkeypatch.setenv("MOGRUN_FILE", "ci")
    result = project.run("list")
    assert (result.code, result.err) == (
        2, "Error: task file ci (from MOGRUN_FILE) is a directory; name the mogplex.toml "
           "inside it\n")
    monkeypatch.delenv("MOGRUN_FILE")
    result = project.run("-f", "ci", "check")
    assert (result.code, result.err) == (
        2, "Error: task file ci (from -f/--file) is a directory; name the mogplex.toml "
           "inside it\n")


def test_an_empty_file_option_is_an_error_not_ignored(project) -> None:
    # `-f ""` (say, from an unset CI variable) silently fell back to searching.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("-f", "", "list")
    assert (result.code, result.err) == (2, "Error: -f/--file needs a path, not an empty string\n")


def named_by(project, monkeypatch, how: str, name: str, command: list[str]):
    """``command`` with the task file named ``name`` by ``-f`` or ``MOGRUN_FILE``
    (``how``): its result, and the origin its messages name."""
    if how == "-f":
        return project.run("-f", name, *command), "-f/--file"
    monkeypatch.setenv("MOGRUN_FILE", name)
    return project.run(*command), "MOGRUN_FILE"


@pytest.mark.parametrize("how", ["-f", "MOGRUN_FILE"])
@pytest.mark.parametrize("command", [["list"], ["init"]])
def test_a_blank_file_name_is_said_blank(project, monkeypatch, how, command) -> None:
    # MOGRUN_FILE="  " read "task file    (from MOGRUN_FILE) does not exist", and
    # `-f "  " init` made a file named "  "
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result, origin = named_by(project, monkeypatch, how, "  " if how == "-f" else " \t", command)
    assert (result.code, result.err) == (2, f"Error: {origin} is blank: it names no task file\n")
    assert sorted(p.name for p in project.root.iterdir()) == ["mogplex.toml"]


@pytest.mark.parametrize("env_value", [" \t", "caf\udce9.toml", "-"])
def test_f_wins_over_a_mogrun_file_it_overrides_unread(project, monkeypatch, env_value) -> None:
    """-f comes before MOGRUN_FILE: one naming a missing file was passed over, but a
    blank one, or one of bytes no UTF-8 reads, or "-", stopped `-f FILE list`."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    monkeypatch.setenv("MOGRUN_FILE", env_value)
    result = project.run("-f", "mogplex.toml", "list")
    assert result.code == 0, result
    assert [line.split()[:2] for line in result.out.splitlines()[2:]] == [["a", "acme/api"]]


@pytest.mark.parametrize("command", [["list"], ["init"], ["--local", "history"]])
def test_a_file_name_that_is_no_utf_8_is_refused_from_the_environment_too(
        project, monkeypatch, command) -> None:
    """-f with a latin-1 name is refused as every such argument is; MOGRUN_FILE so
    named reached the history and ended in a UnicodeEncodeError traceback."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    monkeypatch.setenv("MOGRUN_FILE", "caf\udce9.toml")  # os.environ's b"caf\xe9.toml"
    result = project.run(*command)
    assert (result.code, result.err) == (
        2, "Error: MOGRUN_FILE 'caf\\xe9.toml' is not UTF-8 text; mogrun takes UTF-8 names "
           "and paths\n"), result
    assert sorted(p.name for p in project.root.iterdir()) == ["mogplex.toml"]


@pytest.mark.parametrize("how", ["-f", "MOGRUN_FILE"])
@pytest.mark.parametrize("command", [["check"], ["init"], ["add", "b", "--repo", "a/b",
                                                           "--prompt", "x"]])
def test_a_dash_file_name_is_standard_input_which_is_not_read(
        project, monkeypatch, how, command) -> None:
    # `-f - check < mogplex.toml` said "task file - does not exist" and advised
    # `mogrun init -f -`, which then made a file named "-".
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result, origin = named_by(project, monkeypatch, how, "-", command)
    assert result.code == 2, result
    assert result.err.splitlines() == [
        f"Error: {origin} is -, standard input: a task file is read from its path (its prompt "
        "files and .mogrun/ history are beside it)",
        "Save it as a file and name that; a file named - is ./-."]
    assert sorted(p.name for p in project.root.iterdir()) == ["mogplex.toml"]


def test_a_file_named_dash_is_still_read_by_its_path(project) -> None:
    (project.root / "-").write_text('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    result = project.run("-f", "./-", "list")
    assert result.code == 0, result
    assert result.out.splitlines()[-1].startswith("a ")


@pytest.mark.parametrize("typed", ["mogplex.toml/", "mogplex.toml/.", "./mogplex.toml//"])
def test_a_file_name_typed_with_a_slash_after_it_is_said_so(project, typed) -> None:
    # "names a directory; name the mogplex.toml inside it" was said of the file itself
    project.write('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    before = project.path.read_bytes()
    result = project.run("-f", typed, "add", "b", "--repo", "acme/web", "--prompt", "y")
    assert (result.code, result.err) == (
        2, f"Error: task file {typed} (from -f/--file) names a file with a / after it; "
           "leave out the /\n")
    assert project.path.read_bytes() == before


LONG_NAME = "x" * 300  # over the 255 bytes a file name may have


@pytest.mark.parametrize("how", ["-f", "MOGRUN_FILE"])
def test_an_over_long_task_file_name_is_a_clear_error(project, monkeypatch, how: str) -> None:
    if how == "-f":
        result = project.run("-f", LONG_NAME, "list")
    else:
        monkeypatch.setenv("MOGRUN_FILE", LONG_NAME)
        result = project.run("list")
    origin = "-f/--file" if how == "-f" else "MOGRUN_FILE"
    assert (result.code, result.err) == (
        2, f"Error: task file {LONG_NAME} (from {origin}) cannot be used: File name too long\n")


@pytest.mark.parametrize("command", [["check"], ["show", "a"]])
def test_an_over_long_prompt_file_name_is_a_clear_error(project, command) -> None:
    project.write(f'[jobs.a]\nrepo = "acme/api"\nprompt_file = "{LONG_NAME}.md"\n')
    result = project.run(*command)
    assert result.code == 2, result
    assert result.errors == [f'Error: job "a", key "prompt_file": prompt file {LONG_NAME}.md '
                             f"cannot be used: File name too long (relative to {project.root})"]


@pytest.mark.parametrize("command", [["check"], ["show", "a"]])
def test_an_over_long_plugin_file_name_is_a_clear_error(project, command) -> None:
    project.write(f'[mogplex]\nplugins = ["{LONG_NAME}.py"]\n'
                  '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run(*command, plugins=True)
    assert result.code == 2, result
    assert result.errors == [f"Error: plugin file {project.root.resolve() / LONG_NAME}.py "
                             "cannot be used: File name too long"]


def test_init_refuses_an_empty_file_option_as_every_command_does(project) -> None:
    # `mogrun -f "$UNSET" init` wrote ./mogplex.toml.
    project.path.unlink(missing_ok=True)
    result = project.run("-f", "", "init")
    assert (result.code, result.err) == (2, "Error: -f/--file needs a path, not an empty string\n")
    assert not project.path.exists()


@pytest.mark.parametrize("command", [["check"], ["show", "a"], ["show", "ok"]])
def test_a_prompt_file_that_is_a_symlink_loop_is_located_not_a_traceback(project,
                                                                        command) -> None:
    """pathlib's RuntimeError for a loop came out as a traceback (exit 1) from every
    command, those of other jobs too; it is a problem of the job that names it."""
    (project.root / "loop.md").symlink_to("loop.md")
    project.write('[jobs.ok]\nrepo = "acme/api"\nprompt = "hi"\n\n'
                  '[jobs.a]\nrepo = "acme/api"\nprompt_file = "loop.md"\n\n')
    result = project.run(*command)
    if command == ["show", "ok"]:
        assert result.code == 0 and "job ok" in result.out, result
        return
    assert result.code == 2, result
    assert result.errors == ['Error: job "a", key "prompt_file": prompt file loop.md is a '
                             f"symlink loop (relative to {project.root})"]


@pytest.mark.parametrize("how", ["file", "option"])
def test_a_plugin_file_that_is_a_symlink_loop_is_a_clear_error(project, how) -> None:
    (project.root / "loop.py").symlink_to("loop.py")
    plugins = '[mogplex]\nplugins = ["loop.py"]\n' if how == "file" else ""
    project.write(plugins + '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    extra = ["-p", "loop.py"] if how == "option" else []
    result = project.run(*extra, "check", plugins=True)
    assert result.code == 2, result
    assert result.errors == [f"Error: plugin file {project.root.resolve() / 'loop.py'} is a "
                             "symlink loop"]


def _linked_projects(root):
    """``real/mogplex.toml`` linked into ``proj/``; each folder has its own prompt."""
    (root / "real").mkdir()
    (root / "proj").mkdir()
    (root / "real" / "mogplex.toml").write_text(
        '# shared between projects\r\n[jobs.p]\r\nrepo = "acme/api"\r\n'
        'prompt_file = "prompt.md"\t# beside the file as named\r\n\r\n')
    (root / "real" / "prompt.md").write_text("REAL prompt\n")
    (root / "proj" / "prompt.md").write_text("PROJ prompt\n\n")
    (root / "proj" / "mogplex.toml").symlink_to("../real/mogplex.toml")
    return root / "proj"


@pytest.mark.parametrize("how", ["found", "-f", "MOGRUN_FILE", "-f absolute"])
def test_a_linked_task_file_is_the_file_as_named_however_it_is_named(
        project, monkeypatch, how: str) -> None:
    proj = _linked_projects(project.root)
    monkeypatch.chdir(proj)
    args: tuple[str, ...] = ()
    if how == "MOGRUN_FILE":
        monkeypatch.setenv("MOGRUN_FILE", "mogplex.toml")
    elif how != "found":
        args = ("-f", str(proj / "mogplex.toml") if how.endswith("absolute") else "mogplex.toml")
    result = project.run(*args, "--json", "show", "p")
    assert result.code == 0, result
    assert "PROJ prompt" in result.out and "REAL prompt" not in result.out, result
    checked = project.run(*args, "--json", "check")
    assert f'"file": "{proj.resolve() / "mogplex.toml"}"' in checked.out, checked
    added = project.run(*args, "add", "q", "--repo", "acme/web", "--prompt", "hi")
    assert added.code == 0, added
    assert (proj / "mogplex.toml").is_symlink()  # the real file was edited, the link kept
    assert "[jobs.q]" in (project.root / "real" / "mogplex.toml").read_text()


@pytest.mark.parametrize(("written", "link"), [
    (".git/config", None), ("./.GIT/config", None), ("notes.md", ".git/config"),
    (".mogrun/repos.json", None)])
@pytest.mark.parametrize("command", [["check"], ["show", "a"], ["--local", "a"]])
def test_a_prompt_file_in_git_s_or_mogrun_s_own_folder_is_refused(project, command, written,
                                                                 link) -> None:
    """``prompt_file = ".git/config"``: a pull request's task file sent the token a
    checkout keeps there to the API as the prompt; ``show`` printed it and the
    history kept it, unmasked (nothing knew it was a secret)."""
    for folder in (".git", ".mogrun"):
        (project.root / folder).mkdir()
        (project.root / folder / ("config" if folder == ".git" else "repos.json")).write_text(
            "[http]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW4=\n")
    if link is not None:
        (project.root / written).symlink_to(link)
    project.write(f'[jobs.a]\r\nrepo = "acme/api"\r\nprompt_file = "{written}"  # hm\r\n\r\n')
    result = project.run(*command)
    assert result.code == 2, result
    folder = written.split("/")[1] if written.startswith("./") else \
        (link or written).split("/")[0]
    where = "leads into" if link else "is inside"
    (error,) = result.errors
    assert error.startswith(f'Error: job "a", key "prompt_file": prompt file \'{written}\' '
                            f"{where} {folder}, which holds "), result
    assert "extraheader" not in result.out + result.err
