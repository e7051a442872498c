"""`init` and `add` write task files without disturbing what people wrote:
line endings, byte order marks, other bytes, inline jobs."""

from __future__ import annotations


def test_add_to_a_file_with_inline_jobs_explains_itself(project) -> None:
    project.write('jobs = { a = { repo = "acme/api", prompt = "x" } }\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: cannot append job "b": the file defines its jobs in a way that a new '
        "[jobs.NAME] table would break")
    assert "{exc}" not in result.err


def test_add_keeps_a_crlf_file_crlf(project) -> None:
    # The appended job used bare \n line endings: a CRLF file came back mixed.
    project.path.write_bytes(b'# team jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "line one\nline two")
    assert result.code == 0, result
    data = project.path.read_bytes()
    assert data.startswith(b'# team jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    assert data.count(b"\n") == data.count(b"\r\n")
    shown = project.run("--json", "show", "b")
    assert shown.code == 0, shown
    assert '"prompt": "line one\\nline two"' in shown.out


def test_add_accepts_a_prompt_with_carriage_returns(project) -> None:
    # A multi-line TOML string cannot keep \r\n, so such a prompt was refused outright.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "one\r\ntwo")
    assert result.code == 0, result
    shown = project.run("--json", "show", "b")
    assert '"prompt": "one\\r\\ntwo"' in shown.out


def test_add_does_not_write_a_repo_twice_in_another_case(project) -> None:
    # add kept acme/api and Acme/API, a job that check then refuses ("lists a repo twice").
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/api", "--repo", "Acme/API", "--repo",
                         "acme/web", "--prompt", "y")
    assert result.code == 0, result
    assert 'repo = ["acme/api", "acme/web"]' in project.path.read_text()
    assert project.run("check").code == 0


def test_a_task_file_saved_with_a_utf8_bom_is_read_and_add_keeps_the_bom(project) -> None:
    # Windows editors write a byte order mark: "invalid TOML: Invalid statement" at 1:1.
    project.path.write_bytes(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ntmeout = 1\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == ['Error: unknown key "tmeout" in job "a"',
                                           f"  --> {project.path.resolve()}:4:1",
                                           "  4 | tmeout = 1"]
    project.path.write_bytes(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    assert project.run("list").code == 0
    assert project.run("add", "b", "--repo", "acme/web", "--prompt", "y").code == 0
    assert project.path.read_bytes().startswith(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\n')
    assert [line.split()[0] for line in project.run("list").out.splitlines()[2:]] == ["a", "b"]


def test_init_keeps_the_bytes_of_a_gitignore_that_is_not_utf8(project) -> None:
    # It was read with errors="replace" and written back: é in Latin-1 became U+FFFD.
    gitignore = project.root / ".gitignore"
    gitignore.write_bytes(b"caf\xe9/\nbuild/")
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == b"caf\xe9/\nbuild/\n.mogrun/\n"


def test_add_refuses_what_check_would_refuse_and_writes_nothing(project) -> None:
    # add x3 --prompt "{{ tem }}" wrote a job that check then refused.
    project.write('[vars]\nteam = "platform"\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    before = project.path.read_bytes()
    result = project.run("add", "x3", "--repo", "a/b", "--prompt", "{{ tem }}")
    assert (result.code, result.err) == (
        2, 'Error: job "x3", key "prompt": unknown template name "tem" in {{ tem }}\n'
           'did you mean "team"?\nNames: job, repo, date, week, now, team, env.NAME\n'
           f"Nothing was written to {project.path.resolve()}.\n")
    assert project.path.read_bytes() == before
    long_key = project.run("add", "x4", "--repo", "a/b", "--prompt", "x" * 100_001)
    assert long_key.code == 2 and project.path.read_bytes() == before
    # An env name unset here is only a warning for check: add accepts it.
    fine = project.run("add", "x5", "--repo", "a/b", "--prompt", "for {{ env.WHO }}")
    assert fine.code == 0, fine
    assert project.run("check").code == 0
