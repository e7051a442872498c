"""--json: NDJSON on stdout only, every line parseable, notices on stderr."""

from __future__ import annotations

import io
import json
import threading

from mogrun.output.ndjson import NdjsonReporter
from mogrun.runs import GateVerdict, RunState

from .values import SECRET, ChunkyStream, make_event, make_job, make_result, summary_peak


def drive(rep):
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending"), True)
    rep.event(
        job,
        run,
        make_event(
            f"\x1b[31m::error::{SECRET}\nnext",
            tool="bash",
            payload={"cmd": f"echo {SECRET}", "n": 3},
        ),
    )
    rep.status(job, run, "pending", RunState("r_1", "success"))
    rep.notice("attached to existing run r_1", job=job, run=run)
    rep.notice("careful", level="warning")
    result = make_result(
        attached=True, duration=2.5, gates=(GateVerdict("tests", False, "1 failing"),), message="m"
    )
    rep.job_finished(job, (result,), "gate_failed")
    rep.summary((result,), 1)
    rep.close()


def objects(out):
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_parses_with_the_right_types_and_fields():
    out, err = io.StringIO(), io.StringIO()
    drive(NdjsonReporter(stdout=out, stderr=err))
    objs = objects(out)
    assert [o["type"] for o in objs] == [
        "job_started",
        "event",
        "status",
        "job_finished",
        "summary",
    ]
    started, event, status, finished, summary = objs
    assert started == {
        "type": "job_started",
        "job": "build",
        "repo": "acme/api",
        "run_id": "r_1",
        "label": "build",  # one repo: the job, as logs and the plain lines name it
        "status": "pending",
        "attached": True,
    }
    assert event["run_id"] == "r_1" and event["job"] == "build" and event["repo"] == "acme/api"
    assert event["label"] == "build"  # as logs names it
    assert event["event"] == {
        "id": "e1",
        "type": "log",
        "toolName": "bash",
        "message": "\x1b[31m::error::***\nnext",
        "payload": {"cmd": "echo ***", "n": 3},
        "createdAt": "2026-03-04T05:06:07Z",
    }
    assert status == {
        "type": "status",
        "job": "build",
        "repo": "acme/api",
        "run_id": "r_1",
        "label": "build",  # one repo: the job, as logs and the plain lines name it
        "old": "pending",
        "status": "success",
    }
    run = {
        "job": "build",
        "repo": "acme/api",
        "run_id": "r_1",
        "outcome": "success",
        "status": "success",
        "attached": True,
        "duration": 2.5,
        "gates": [{"gate": "tests", "passed": False, "reason": "1 failing"}],
        "message": "m",
        "branch": None,
        "left_going": False,
    }
    assert finished == {
        "type": "job_finished",
        "job": "build",
        "outcome": "gate_failed",
        "runs": [run],
    }
    assert summary == {"type": "summary", "exit_code": 1, "results": [run], "rerun": None}
    assert err.getvalue().splitlines() == [
        "build: attached to existing run r_1",
        "warning: careful",
    ]


def test_stdout_is_ascii_and_holds_no_raw_escape_or_secret():
    out = io.StringIO()
    drive(NdjsonReporter(stdout=out, stderr=io.StringIO()))
    text = out.getvalue()
    assert text.isascii()
    assert "\x1b" not in text and SECRET not in text


def test_quiet_keeps_the_json_stream_whole_but_drops_info_notices():
    out, err = io.StringIO(), io.StringIO()
    drive(NdjsonReporter(stdout=out, stderr=err, quiet=True))
    assert len(objects(out)) == 5
    assert err.getvalue() == "warning: careful\n"


def test_odd_payload_values_still_serialise():
    out = io.StringIO()
    rep = NdjsonReporter(stdout=out, stderr=io.StringIO())
    job = make_job()
    rep.event(job, job.runs[0], make_event(payload={"when": object, "set": {1}}))
    (obj,) = objects(out)
    assert obj["run_id"] is None
    assert obj["event"]["payload"]["set"] == [1]


def test_concurrent_emitters_write_whole_json_lines():
    out = ChunkyStream()
    rep = NdjsonReporter(stdout=out, stderr=io.StringIO())
    jobs = [make_job(f"job{i}") for i in range(6)]

    def emit(job):
        for n in range(40):
            rep.event(job, job.runs[0], make_event("y" * 80, id=str(n)))

    threads = [threading.Thread(target=emit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    objs = objects(out)
    assert len(objs) == 240
    for job in jobs:
        ids = [o["event"]["id"] for o in objs if o["job"] == job.name]
        assert ids == [str(n) for n in range(40)]


def test_a_secret_json_escapes_is_masked_and_an_escape_is_never_cut():
    """Lines are checked for each secret as JSON writes it: one with a quote, a
    backslash and a non-ASCII letter is still masked; a secret that appears in
    the written line only across an escape (``nabc`` in ``\\nabc``) leaves the
    line whole and unmasked, as the text holds no secret."""
    out = io.StringIO()
    tricky, lookalike = 'pa"ss\\wörd', "nabc"
    rep = NdjsonReporter(stdout=out, stderr=io.StringIO())
    job = make_job(secrets=(tricky, lookalike))
    rep.event(job, job.runs[0], make_event(f"token {tricky} and x\nabcd",
                                           payload={tricky: [tricky, "x\nabc"]}))
    (obj,) = objects(out)
    assert obj["event"]["message"] == "token *** and x\nabcd"
    assert obj["event"]["payload"] == {"***": ["***", "x\nabc"]}
    assert tricky not in out.getvalue() and '\\"ss\\\\w\\u00f6rd' not in out.getvalue()


def test_a_set_is_a_list_with_or_without_secrets():
    for secrets in ((), (SECRET,)):
        out = io.StringIO()
        rep = NdjsonReporter(stdout=out, stderr=io.StringIO())
        job = make_job(secrets=secrets)
        rep.event(job, job.runs[0], make_event(payload={"set": {1}}))
        (obj,) = objects(out)
        assert obj["event"]["payload"]["set"] == [1]


def test_a_line_made_while_another_thread_takes_in_its_job_s_secrets_is_masked(monkeypatch):
    """Lines are made outside the lock: a thread that found the job's secrets taken
    in while another was still building their masks wrote the secret in clear."""
    from mogrun.output import ndjson

    learning, go_on = threading.Event(), threading.Event()
    real = ndjson.json_forms

    def slow_forms(masks):
        learning.set()
        assert go_on.wait(10)
        return real(masks)

    out = io.StringIO()
    rep = NdjsonReporter(stdout=out, stderr=io.StringIO())
    monkeypatch.setattr(ndjson, "json_forms", slow_forms)
    job = make_job()
    run = job.runs[0]
    first = threading.Thread(target=rep.event, args=(job, run, make_event("one")))
    first.start()
    assert learning.wait(10)  # the first line's thread is taking the secrets in
    second = threading.Thread(target=rep.event, args=(job, run, make_event(f"two {SECRET}")))
    second.start()
    second.join(0.3)  # not done before the masks are: it waits for them
    go_on.set()
    first.join(10)
    second.join(10)
    rep.close()
    assert SECRET not in out.getvalue()
    assert sorted(o["event"]["message"] for o in objects(out)) == ["one", "two ***"]


def _results(count: int, secret: str = SECRET):
    return tuple(make_result(repo=f"acme/r{n}", run_id=f"r_{n}", message=f"##[group]{secret} {n}",
                             usage={"inputTokens": n}, gates=(GateVerdict("g", True, "ok"),))
                 for n in range(count))


def test_a_listing_line_is_the_whole_object_masked_and_inert():
    """``job_finished`` and ``summary`` are made a result at a time: the line is
    still the one object, with every key, secrets masked and no ``##[``."""
    from mogrun.output.ndjson import result_dict
    from mogrun.output.tables import total_usage

    for count in (0, 1, 3):
        out = io.StringIO()
        rep = NdjsonReporter(stdout=out, stderr=io.StringIO(), secrets=[SECRET])
        job = make_job()
        results = _results(count)
        rep.job_finished(job, results, "success")
        rep.summary(results, 1, rerun="mogrun rerun")
        rep.close()
        text = out.getvalue()
        assert SECRET not in text and "##[" not in text
        finished, summary = objects(out)
        listed = [json.loads(json.dumps(result_dict(r)).replace(SECRET, "***"))
                  for r in results]
        assert finished == {"type": "job_finished", "job": "build", "outcome": "success",
                            "runs": listed}
        assert summary == {"type": "summary", "exit_code": 1, "results": listed,
                           "rerun": "mogrun rerun",
                           **({"usage": total_usage(results)} if count else {})}


def test_a_fan_out_s_summary_is_written_without_the_whole_line_in_memory(tmp_path):
    """4,000 results make a ~1.2 MB line; made whole (with every result's dict) it
    took six times that (7.7 MB) at the very end of the run, the process's peak.
    What is left is the results' order (a sort key each: ~0.4 MB)."""
    peak, line = summary_peak(NdjsonReporter, _results(4000, secret="s3cret-value"),
                              tmp_path / "out.ndjson")
    assert len(json.loads(line)["results"]) == 4000
    assert peak < len(line), (peak, len(line))
