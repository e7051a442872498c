"""``mogrun run --shard I/N``: deterministic slices and 1/N of every per-token limit,
proven against one emulator with three legs running at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mogrun.ci.shard import Shard, parse_shard, shared_settings, slice_jobs
from mogrun.emulator import Emulator, Limits
from mogrun.errors import UsageError
from mogrun.models import ResolvedJob, RunPlan, StartRequest
from mogrun.testing import run_mogrun


def fan(name: str, count: int, needs: tuple[str, ...] = ()) -> ResolvedJob:
    runs = tuple(RunPlan(name, f"acme/r{k:02d}", StartRequest(f"acme/r{k:02d}", "p", f"k{k}"))
                 for k in range(count))
    return ResolvedJob(name=name, description="", needs=needs, runs=runs, timeout=60.0)


@pytest.mark.parametrize(("text", "shard"), [("1/3", Shard(1, 3)), (" 3/3 ", Shard(3, 3)),
                                             ("1/1", Shard(1, 1))])
def test_parse_shard(text, shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize(("text", "message"), [
    ("0/3", "--shard 0/3: I must be between 1 and N (N at least 1)"),
    ("4/3", "--shard 4/3: I must be between 1 and N (N at least 1)"),
    ("1/0", "--shard 1/0: I must be between 1 and N (N at least 1)"),
    ("2", "--shard takes I/N (e.g. 2/3), not '2'"),
    ("a/3", "--shard takes I/N (e.g. 2/3), not 'a/3'"),
    ("-1/3", "--shard takes I/N (e.g. 2/3), not '-1/3'"),
    ("1/3/5", "--shard takes I/N (e.g. 2/3), not '1/3/5'"),
    ("\u00b2/3", "--shard takes I/N (e.g. 2/3), not '\u00b2/3'"),  # a digit int() refuses
    ("1/\u00b3", "--shard takes I/N (e.g. 2/3), not '1/\u00b3'"),
    ("\u0661/\u0662", "--shard takes I/N (e.g. 2/3), not '\u0661/\u0662'"),  # int() takes it
    ("1 /2", "--shard takes I/N (e.g. 2/3), not '1 /2'"),
    # Past the 4,300 digits int() reads: a traceback (ValueError), exit 1.
    ("1/" + "9" * 5000, f"--shard takes I/N (e.g. 2/3), not '1/{'9' * 5000}'"),
])
def test_parse_shard_refuses(text, message) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(text)
    assert caught.value.message == message


@pytest.mark.parametrize(("runs", "legs"), [(30, 3), (31, 3), (7, 4), (2, 5), (1, 1)])
def test_every_run_is_in_exactly_one_leg_and_legs_are_even(runs, legs) -> None:
    slices = [slice_jobs([fan("a", runs)], Shard(i, legs)) for i in range(1, legs + 1)]
    repos = [[r.repo for job in s for r in job.runs] for s in slices]
    flat = [repo for leg in repos for repo in leg]
    assert sorted(flat) == [f"acme/r{k:02d}" for k in range(runs)]
    assert max(map(len, repos)) - min(map(len, repos)) <= 1


def test_slices_follow_the_file_order_so_every_machine_agrees() -> None:
    leg = slice_jobs([fan("a", 7), fan("b", 4)], Shard(2, 3))
    assert [(j.name, [r.repo for r in j.runs]) for j in leg] == [
        ("a", ["acme/r01", "acme/r04"]), ("b", ["acme/r01"])]
    assert slice_jobs([fan("a", 1)], Shard(2, 2)) == []  # a leg may have nothing to do


def test_a_job_and_its_need_in_one_sharded_invocation_are_refused() -> None:
    with pytest.raises(UsageError) as caught:
        slice_jobs([fan("a", 3), fan("b", 3, needs=("a",))], Shard(1, 2))
    assert caught.value.message == ('--shard 1/2: job "b" needs "a", and a leg cannot wait for '
                                    "the other legs' runs of it")
    assert caught.value.context == ("Run the needs first (mogrun run a), then mogrun run b "
                                    "--no-deps --shard 1/2.",)
    assert slice_jobs([fan("b", 3, needs=("a",))], Shard(1, 2))  # --no-deps: a is not here


def test_a_chain_s_refusal_names_the_jobs_asked_for() -> None:
    """``--shard 1/2 c`` of ``a -> b -> c`` was told to run a, then ``--no-deps b``:
    following it never ran c. The needs of the jobs asked for come first (b brings
    a), then those jobs."""
    jobs = [fan("a", 3), fan("b", 3, needs=("a",)), fan("c", 3, needs=("b",)),
            fan("d", 3, needs=("b", "c")), fan("e", 3)]
    with pytest.raises(UsageError) as caught:
        slice_jobs(jobs[:3], Shard(1, 2))
    assert caught.value.message == ('--shard 1/2: job "c" needs "b", and a leg cannot wait for '
                                    "the other legs' runs of it")
    assert caught.value.context == ("Run the needs first (mogrun run b), then mogrun run c "
                                    "--no-deps --shard 1/2.",)
    with pytest.raises(UsageError) as caught:
        slice_jobs(jobs, Shard(1, 2))
    assert caught.value.context == ("Run the needs first (mogrun run b c), then mogrun run d e "
                                    "--no-deps --shard 1/2.",)


def test_each_leg_gets_a_floor_of_one_nth_of_every_limit() -> None:
    assert shared_settings({}, 3) == {"requests_per_minute": 20, "starts_per_minute": 3,
                                      "starts_per_hour": 10, "starts_per_day": 50,
                                      "sandboxes": 1}
    assert shared_settings({"starts_per_minute": 5, "url": "x"}, 2)["starts_per_minute"] == 2
    assert shared_settings({"starts_per_minute": 5}, 1) == {"starts_per_minute": 5}
    with pytest.raises(UsageError) as caught:
        shared_settings({"starts_per_minute": 5, "sandboxes": 8}, 6)
    assert caught.value.message == ("--shard .../6: the token's starts per minute (5) cannot be "
                                    "split 6 ways; use at most 5 shards")
    with pytest.raises(UsageError) as caught:
        shared_settings({}, 4)  # three sandbox slots cannot give four legs one each
    assert caught.value.message == ("--shard .../4: the account's sandbox slots (3) cannot be "
                                    "split 4 ways; use at most 3 shards")


@pytest.mark.parametrize(("count", "settings"), [(99, {}), (60, {}), (10, {}),
                                                  (8, {"sandboxes": 12, "starts_per_minute": 7})])
def test_too_many_legs_names_the_limit_that_binds_and_the_real_maximum(count, settings) -> None:
    """The suggested number of shards must itself be accepted: it is the smallest of
    all the limits, and the message names that limit (not the first one too small)."""
    with pytest.raises(UsageError) as caught:
        shared_settings(settings, count)
    if settings:
        assert caught.value.message == (
            f"--shard .../{count}: the token's starts per minute (7) cannot be split {count} "
            "ways; use at most 7 shards")
        assert shared_settings(settings, 7)["starts_per_minute"] == 1
    else:
        assert caught.value.message == (
            f"--shard .../{count}: the account's sandbox slots (3) cannot be split {count} "
            "ways; use at most 3 shards")
        assert shared_settings(settings, 3)["sandboxes"] == 1


# ---- end to end: three legs, one token, one emulator ----------------------------------------

WINDOW = 3.0  # the emulator's minute; its hour and day are 60 and 1440 of these
SCALE = WINDOW / 60.0
REAL_SHAPE = Limits(requests=60, window=WINDOW,
                    starts=((10, WINDOW), (30, 60 * WINDOW), (150, 1440 * WINDOW)),
                    sandboxes=0)  # rate limits only: no sandbox cap in this test


def fan_file(repos: list[str]) -> str:
    listed = ",\n  ".join(f'"{r}"' for r in repos)
    return ("[mogplex]\nsandboxes = 90  # the emulator has no cap here: 30 slots a leg\n\n"
            f"[jobs.fan]\nrepo = [\n  {listed},\n]\n"
            'prompt = "{{ repo }}\\n@emulator duration=1s events=3"\n'
            'timeout = "2m"\n\n')


def legs_env(emulator: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
               MOGRUN_POLL_INTERVAL="0.3", MOGRUN_LIMIT_WINDOW_SCALE=str(SCALE), NO_COLOR="1")
    return env


def most_in_any_window(times: list[float], span: float) -> int:
    """The most events in any half-open window of ``span`` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - span:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_legs(tmp_path: Path, emulator: Emulator, legs: int) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(
        [sys.executable, "-m", "mogrun", "--json", "run", "fan", "--shard", f"{i}/{legs}"],
        cwd=tmp_path, env=legs_env(emulator), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(1, legs + 1)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_three_legs_of_one_token_stay_inside_its_limits(tmp_path) -> None:
    repos = [f"acme/repo{k:02d}" for k in range(30)]
    (tmp_path / "mogplex.toml").write_text(fan_file(repos), encoding="utf-8")
    with Emulator(repos=repos, limits=REAL_SHAPE, default_duration=1.0) as emulator:
        began = time.monotonic()
        done = run_legs(tmp_path, emulator, 3)
        elapsed = time.monotonic() - began
        log = emulator.requests
        started = [emulator.run_detail(run)["repoId"] for run in emulator.runs]
        ids = {emulator.repo_id(r): r for r in repos}
    for proc in done:
        assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(p.stdout.splitlines()[-1]) for p in done]
    assert [len(s["results"]) for s in summaries] == [10, 10, 10]
    assert sorted(ids[r] for r in started) == repos  # every repo ran, exactly once
    assert [r for r in log if r.status == 429] == []
    api = [r for r in log if r.path.startswith("/api/")]
    starts = [r.time for r in api if r.method == "POST" and r.path.endswith("/runs")]
    assert len(starts) == 30
    assert most_in_any_window([r.time for r in api], WINDOW) <= 60
    assert most_in_any_window(starts, WINDOW) <= 10
    # 30 starts at 10 per window need at least two more windows: the legs were paced.
    assert elapsed >= 2 * WINDOW


# ---- through the CLI, before any request ---------------------------------------------------

NEEDS = """
[jobs.prep]
repo = "acme/api"
prompt = "p"

[jobs.fan]
repo = ["acme/a", "acme/b", "acme/c"]
prompt = "x"
needs = ["prep"]
"""


@pytest.mark.parametrize(("value", "message"), [
    ("0/3", "Error: --shard 0/3: I must be between 1 and N (N at least 1)"),
    ("3", "Error: --shard takes I/N (e.g. 2/3), not '3'"),
    ("1/4", "Error: --shard .../4: the account's sandbox slots (3) cannot be split 4 ways; "
            "use at most 3 shards"),
])
@pytest.mark.parametrize("dry_run", [(), ("-n",)])
def test_bad_shards_are_usage_errors(project, value, message, dry_run) -> None:
    # The dry run refuses what the run would: it showed a leg of 4 legs over 3 slots.
    project.write(NEEDS)
    result = project.run("run", *dry_run, "fan", "--no-deps", "--shard", value)
    assert result.code == 2, result
    assert result.err.splitlines()[0] == message


@pytest.mark.parametrize(("slots", "legs", "refused"), [("6", "4", False), ("2", "3", True)])
def test_legs_are_counted_against_the_slots_mogrun_sandboxes_says(project, monkeypatch, slots,
                                                                  legs, refused) -> None:
    """MOGRUN_SANDBOXES wins over the file's slots (and its default 3), for the legs
    too: 4 legs of 6 slots were refused, 3 legs of 2 slots each took one."""
    project.write(NEEDS)
    monkeypatch.setenv("MOGRUN_SANDBOXES", slots)
    result = project.run("run", "-n", "fan", "--no-deps", "--shard", f"1/{legs}")
    assert result.code == (2 if refused else 0), result
    if refused:
        assert result.err.splitlines()[0] == (
            f"Error: --shard .../{legs}: the account's sandbox slots ({slots}) cannot be split "
            f"{legs} ways; use at most {slots} shards")


def test_a_sharded_job_with_its_needs_is_refused_with_the_way_out(project) -> None:
    project.write(NEEDS)
    result = project.run("run", "fan", "--shard", "2/3")
    assert result.code == 2, result
    assert result.err.splitlines() == [
        "Error: --shard 2/3: job \"fan\" needs \"prep\", and a leg cannot wait for the other "
        "legs' runs of it",
        "Run the needs first (mogrun --no-plugins run prep), then mogrun --no-plugins run "
        "--no-deps --shard 2/3 fan."]  # with the options that shaped it (here --no-plugins)


@pytest.mark.parametrize("dry_run", [(), ("-n",)])
def test_a_leg_with_no_runs_says_so_and_passes(project, dry_run) -> None:
    # The dry run of an empty leg printed nothing at all.
    project.write(NEEDS)
    result = project.run("run", *dry_run, "prep", "--shard", "2/2")
    assert (result.code, result.out) == (0, "" if dry_run else "exit code 0\n")
    assert result.err == "shard 2/2: no runs of these jobs fall in this leg; nothing to do\n"


def test_a_leg_with_no_runs_still_writes_its_outputs(project, tmp_path) -> None:
    """A hand-written matrix can make an empty leg: a step reading its outputs (or a
    --json summary) must find them, as for any other leg."""
    project.write(NEEDS)
    outputs = tmp_path / "outputs.txt"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    result = run_mogrun("-f", str(project.root / "mogplex.toml"), "run", "prep", "--shard", "2/2",
                        env=env)
    assert result.code == 0, result
    assert outputs.read_text().splitlines() == ["run_ids=", "branches=", "exit_code=0"]
    # The step summary says so, rather than show a table with no rows.
    assert "No run was started." in (tmp_path / "summary.md").read_text()
    assert "| job |" not in (tmp_path / "summary.md").read_text()
    summary = project.run("--json", "run", "prep", "--shard", "2/2")
    assert [json.loads(line) for line in summary.out.splitlines()] == [
        {"type": "summary", "exit_code": 0, "results": [], "rerun": None}]


def test_dry_run_shows_only_the_legs_runs(project) -> None:
    project.write(NEEDS)
    result = project.run("--json", "run", "-n", "fan", "--no-deps", "--shard", "2/3")
    assert result.code == 0, result
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert [(d["job"], [r["repo"] for r in d["runs"]]) for d in docs] == [("fan", ["acme/b"])]
    refused = project.run("run", "-n", "fan", "--shard", "2/3")
    assert refused.code == 2 and "a leg cannot wait" in refused.err


def test_legs_share_the_sandbox_slots_so_none_is_refused_a_boot(tmp_path) -> None:
    """Two legs, two slots: each leg holds at most one sandbox of its own repos, so
    together they never ask the server for a third (which it would refuse), and a
    leg's two runs follow one another instead of taking both slots at once."""
    repos = [f"acme/box{k}" for k in range(4)]
    text = fan_file(repos).replace("sandboxes = 90  # the emulator has no cap here: 30 slots "
                                   "a leg", "sandboxes = 2\nrequests_per_minute = 600")
    (tmp_path / "mogplex.toml").write_text(text, encoding="utf-8")
    limits = Limits(requests=1000, window=1.0, starts=((1000, 1.0),), sandboxes=2, idle=0.5,
                    reap=0.1)
    with Emulator(repos=repos, limits=limits, default_duration=1.0) as emulator:
        env = {**legs_env(emulator), "MOGRUN_LIMIT_WINDOW_SCALE": "1"}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "mogrun", "--json", "run", "fan", "--shard", f"{i}/2"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in (1, 2)]
        done = [proc.communicate(timeout=120) for proc in procs]
        details = {run: emulator.run_detail(run) for run in emulator.runs}
        peak = emulator.peak_sandboxes()
    legs = []
    for proc, (out, err) in zip(procs, done, strict=True):
        assert proc.returncode == 0, err[-3000:]
        legs.append([r["run_id"] for r in json.loads(out.splitlines()[-1])["results"]])
    assert peak <= 2
    assert [d["error"] for d in details.values() if d.get("error")] == []  # none refused
    assert len(details) == 4  # one accepted start per repo
    for first, second in legs:  # a leg's share is one slot: its runs never overlap
        a, b = sorted((details[first], details[second]), key=lambda d: d["createdAt"])
        assert b["createdAt"] >= a["updatedAt"], (a, b)


def test_a_leg_is_not_starved_by_other_work_on_one_of_its_repos(tmp_path) -> None:
    """The user's own session held a sandbox of acme/box0 on another branch: leg 1,
    whose repo that is, counted it as its whole share (1 of 3 slots), started
    nothing and failed at capacity_wait though two slots were free (QA pass). Now
    that sandbox counts against the account, not the leg."""
    repos = [f"acme/box{k}" for k in range(3)]
    text = fan_file(repos).replace("sandboxes = 90  # the emulator has no cap here: 30 slots "
                                   "a leg", "sandboxes = 3\nrequests_per_minute = 600")
    text += 'capacity_wait = "6s"\n'
    (tmp_path / "mogplex.toml").write_text(text, encoding="utf-8")
    limits = Limits(requests=1000, window=1.0, starts=((1000, 1.0),), sandboxes=3, idle=30.0,
                    reap=0.1)
    with Emulator(repos=repos, limits=limits, default_duration=1.0) as emulator:
        env = {**legs_env(emulator), "MOGRUN_LIMIT_WINDOW_SCALE": "1"}
        plan = subprocess.run([sys.executable, "-m", "mogrun", "--json", "run", "-n", "fan",
                               "--shard", "1/3"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        [leg_repo] = [r["repo"] for r in json.loads(plan.stdout.splitlines()[0])["runs"]]
        emulator.occupy_sandboxes(1, busy="never", repo=leg_repo)
        leg = subprocess.run([sys.executable, "-m", "mogrun", "--json", "run", "fan",
                              "--shard", "1/3"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert leg.returncode == 0, leg.stderr[-3000:]
    [result] = json.loads(leg.stdout.splitlines()[-1])["results"]
    assert (result["repo"], result["outcome"]) == (leg_repo, "success")


def test_ci_github_splits_automation_jobs_alone_past_the_sandbox_slots(tmp_path) -> None:
    """Only the request budget binds legs that trigger automations (QA pass), whatever
    the file's unsharded jobs are (a one-repo agent job needing them runs as one
    job); a sharded agent-run fan-out is still refused by the slots."""
    from mogrun.testing import run_mogrun

    eight = ", ".join(f'"acme/r{k}"' for k in range(8))  # 2 x 4: sharded 4 ways
    base = (f'[mogplex]\nrequests_per_minute = 600\n\n[jobs.triage]\nrepo = [{eight}]\n'
            'automation = "triage"\nschedule = "17 6 * * 1"\n')
    env = {"MOGRUN_SANDBOXES": None}
    for extra, code in (
            ("", 0),
            ('\n[jobs.fix]\nrepo = "acme/a"\nprompt = "x"\nneeds = ["triage"]\n'
             'schedule = "17 7 * * 1"\n', 0),
            (f'\n[jobs.fix]\nrepo = [{eight}]\nprompt = "x"\nschedule = "17 7 * * 1"\n', 2)):
        (tmp_path / "mogplex.toml").write_text(base + extra, encoding="utf-8")
        made = run_mogrun("ci", "github", "--shards", "4", "-o", "-", cwd=tmp_path, env=env)
        assert made.exit_code == code, (extra, made)
        if code == 2:
            assert "sandbox slots (3) cannot be split 4 ways" in made.stderr, made
        else:
            assert "--shard ${{ matrix.shard }}/4" in made.stdout, made
