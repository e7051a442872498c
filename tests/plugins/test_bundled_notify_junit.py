"""notify posts to a real webhook receiver on loopback; junit writes parseable XML."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest
from mogrun_plugins import junit, notify
from plugtest_helpers import Receiver, make_result, notified, notify_job

from mogrun import http
from mogrun.models import SessionConfig
from mogrun.pluginhost import PluginHost
from mogrun.runs import GateVerdict


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


FAILED = make_result(outcome="gate_failed", status="success", run_id="run_9", duration=12.5,
                     gates=(GateVerdict("status", True, "status success"),
                            GateVerdict("require_events", False, "no tool_finished event")))


def test_webhook_and_slack_receive_the_job_outcome(receiver):
    job = notify_job([{"webhook": receiver.url("/hook/abc")},
                      {"slack": receiver.url("/services/T1/B2/xyz"), "on": ["always"]}])
    host = PluginHost.bundled_only()
    notified(host, job, (FAILED,), "gate_failed")
    assert host.warnings == []
    hook, slack = sorted(receiver.received, key=lambda r: r["path"])
    assert hook["path"] == "/hook/abc"
    assert hook["json"] == {
        "source": "mogrun", "job": "nightly", "outcome": "gate_failed",
        "runs": [{"repo": "acme/api", "run_id": "run_9", "outcome": "gate_failed",
                  "status": "success", "duration": 12.5, "message": "",
                  "gates": [{"gate": "status", "passed": True, "reason": "status success"},
                            {"gate": "require_events", "passed": False,
                             "reason": "no tool_finished event"}]}]}
    assert slack["json"] == {"text": "mogrun: job *nightly* gate_failed\n"
                                     "• acme/api run run_9: gate_failed "
                                     "(gate require_events: no tool_finished event)"}
    for request in (hook, slack):
        assert request["headers"]["Content-Type"] == "application/json"
        assert "Authorization" not in request["headers"]
        assert "mog_" not in json.dumps(request)


def test_on_filters_outcomes_and_default_skips_success(receiver):
    job = notify_job([{"webhook": receiver.url("/default")},
                      {"webhook": receiver.url("/ok"), "on": ["success"]}])
    host = PluginHost.bundled_only()
    notified(host, job, (make_result(),), "success")
    notified(host, job, (make_result(outcome="skipped"),), "skipped")
    assert [(r["path"], r["json"]["outcome"]) for r in receiver.received] == [
        ("/ok", "success"), ("/default", "skipped")]


def test_one_retry_after_a_failed_delivery():
    rec = Receiver(statuses=[500])
    try:
        host = PluginHost.bundled_only()
        notified(host, notify_job({"webhook": rec.url("/flaky")}),
                 (make_result(outcome="failed"),), "failed")
        assert len(rec.received) == 2
        assert host.warnings == []
    finally:
        rec.close()


@pytest.mark.parametrize(("answer", "least", "most"), [
    ((429, {"Retry-After": "2"}), 1.9, 4.0),  # Slack's rate limit says when
    ((503, {"Retry-After": "0"}), 0.0, 0.9),  # ... and may say "now"
    (502, 0.9, 3.0),  # none said: a second (notify.RETRY_PAUSE)
])
def test_a_refused_post_is_retried_after_its_retry_after(answer, least, most):
    rec = Receiver(statuses=[answer])
    try:
        host = PluginHost.bundled_only()
        notified(host, notify_job({"slack": rec.url("/burst")}),
                 (make_result(outcome="failed"),), "failed")
        first, second = rec.received
        assert least <= second["at"] - first["at"] <= most
        assert host.warnings == []
    finally:
        rec.close()


@pytest.mark.parametrize("retry_after", ["3600", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_a_retry_after_longer_than_a_notification_waits_is_said_not_waited(retry_after):
    rec = Receiver(statuses=[(429, {"Retry-After": retry_after})])
    try:
        host = PluginHost.bundled_only()
        notified(host, notify_job({"webhook": rec.url("/limited")}),
                 (make_result(outcome="failed"),), "failed")
        assert len(rec.received) == 1  # not retried: it would be refused again
        [warning] = host.warnings
        assert 'webhook #1 (127.0.0.1) of job "nightly": HTTP 429, asked to retry after ' \
            in warning
        assert "(a notification waits 10s at most)" in warning
    finally:
        rec.close()


def test_post_json_answer_gives_the_status_and_the_retry_after():
    rec = Receiver(statuses=[(429, {"Retry-After": "7"}), 204])
    try:
        assert http.post_json_answer(rec.url("/a"), {"x": 1}) == http.PostAnswer(429, 7.0)
        assert http.post_json_answer(rec.url("/a"), {"x": 1}) == http.PostAnswer(204, None)
        assert http.post_json(rec.url("/a"), {"x": 1}) == 200  # the status alone, as before
    finally:
        rec.close()


def test_undeliverable_notification_is_a_masked_warning():
    rec = Receiver(statuses=[502, 503])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/secret-token-path"
    try:
        job = notify_job([{"webhook": rec.url("/secret-hook-path")}, {"slack": dead}])
        host = PluginHost.bundled_only()
        notified(host, job, (make_result(outcome="failed"),), "failed")
        assert len(rec.received) == 2  # the first target was tried twice, then given up
        [warning] = host.warnings
        assert warning.startswith('plugin "notify" failed in mogrun_session_finished: could '
                                  "not notify: ")
        assert 'webhook #1 (127.0.0.1) of job "nightly": HTTP 503' in warning
        assert 'slack #2 (127.0.0.1) of job "nightly": ' in warning
        assert "secret-hook-path" not in warning and "secret-token-path" not in warning
    finally:
        rec.close()


@pytest.mark.parametrize(("value", "message"), [
    ("https://x.example.com", "notify must be a list of tables"),
    ([{"on": ["failed"]}], "notify[1] needs exactly one of webhook = URL or slack = URL"),
    ([{"webhook": "a", "slack": "b"}], "notify[1] needs exactly one of"),
    ([{"webhook": "ftp://x.example.com/h"}], "notify[1].webhook must be an http(s) URL"),
    ([{"slack": "http://hooks.example.com/h"}],
     "notify[1].slack must use https:// (plain http only to loopback)"),
    ([{"webhook": "https://x.example.com", "on": ["failure"]}],
     'notify[1].on: unknown value "failure" (did you mean "failed"?); valid: timeout, '
     "failed, cancelled, gate_failed, skipped, success, always"),
    ([{"webhook": "https://x.example.com", "channel": "#ops"}],
     'unknown notify[1] setting "channel"'),
    # parsed, but no request can go there: said by check, not after the runs
    ([{"webhook": "https://127.0.0.1:99999/x"}], "notify[1].webhook is not a URL a request "
     "can go to: its port is not a number from 1 to 65535"),
    ([{"webhook": "https://hooks.example.com:abc/x"}], "notify[1].webhook is not a URL"),
    ([{"slack": "https://hooks.example.com:0/x"}], "notify[1].slack is not a URL"),
    ([{"webhook": "https://host with space/x"}], "notify[1].webhook is not a URL a request "
     "can go to: its host is empty or has blanks in it"),
    # loopback named, with a blank: the blank first (https:// then said the same thing)
    ([{"webhook": "http://127.0.0.1 /x"}], "notify[1].webhook is not a URL a request "
     "can go to: its host is empty or has blanks in it"),
    # passed check, and the target could never be sent
    ([{"webhook": "https://x.example.com", "on": []}],
     "notify[1].on is empty, so this target is never sent; name the outcomes to send on"),
])
def test_notify_key_is_validated(value, message):
    with pytest.raises(ValueError) as info:
        notify.validate(value)
    assert str(info.value).startswith(message)


def test_an_empty_notify_switches_off_the_defaults_one(tmp_path):
    # `notify = []` was refused ("not an array", then "needs an entry"), so a job
    # could not leave out the notify every job takes from [defaults]
    from mogrun.testing import run_mogrun

    assert notify.validate([]) == []
    (tmp_path / "mogplex.toml").write_text(
        '[defaults]\r\nnotify = [{ webhook = "https://hooks.example.com/x" }]\r\n\r\n'
        '[jobs.quiet]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nnotify = []  # none here\r\n'
        '\r\n[jobs.loud]\r\nrepo = "acme/api"\r\nprompt = "y"\r\n\r\n', newline="")
    shown = run_mogrun("--json", "show", "quiet", "loud", cwd=tmp_path)
    assert shown.exit_code == 0, shown
    jobs = {o["job"]: o for o in map(json.loads, shown.stdout.splitlines())}
    assert jobs["quiet"]["options"]["notify"] == [], jobs["quiet"]
    assert len(jobs["loud"]["options"]["notify"]) == 1, jobs["loud"]


def test_check_locates_a_target_that_is_never_sent(tmp_path):
    from mogrun.testing import run_mogrun

    (tmp_path / "mogplex.toml").write_text(
        '\ufeff# team jobs\r\n\r\n[jobs.nightly]  # every night\r\nrepo = "acme/api"\r\n'
        'prompt = "x"\r\nnotify = [\r\n\t# the ops channel\r\n'
        '\t{ webhook = "https://hooks.example.com/x", on = [] },  # muted\r\n]\r\n\r\n\r\n',
        encoding="utf-8", newline="")
    checked = run_mogrun("check", cwd=tmp_path)
    assert checked.exit_code == 2, checked
    assert "mogplex.toml:8:" in checked.stderr, checked.stderr
    assert "notify[1].on is empty, so this target is never sent" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_client_error_is_not_retried():
    rec = Receiver(statuses=[404])
    try:
        host = PluginHost.bundled_only()
        notified(host, notify_job({"webhook": rec.url("/gone")}),
                 (make_result(outcome="failed"),), "failed")
        assert len(rec.received) == 1
        assert host.warnings[0].endswith('could not notify: webhook #1 (127.0.0.1) of job '
                                         '"nightly": HTTP 404')
    finally:
        rec.close()


def test_slack_text_cannot_ping_or_forge_links(receiver):
    result = make_result(outcome="failed", message="<!channel> see <https://evil|docs> & more")
    host = PluginHost.bundled_only()
    notified(host, notify_job({"slack": receiver.url("/s")}), (result,), "failed")
    text = receiver.received[0]["json"]["text"]
    assert text.endswith("(&lt;!channel&gt; see &lt;https://evil|docs&gt; &amp; more)")


def test_notify_defaults_and_secrets():
    value = notify.validate({"slack": "https://hooks.slack.com/services/T/B/C"})
    assert value == [{"slack": "https://hooks.slack.com/services/T/B/C",
                      "on": ["timeout", "failed", "cancelled", "gate_failed", "skipped"]}]
    assert notify.secrets(value) == ["https://hooks.slack.com/services/T/B/C"]


# --- junit ------------------------------------------------------------------------


RESULTS = (
    make_result("build", "acme/api", "success", run_id="r1", duration=61.25,
                gates=(GateVerdict("status", True, "status success"),)),
    make_result("build", "acme/web", "failed", run_id="r2", duration=3.0,
                gates=(GateVerdict("status", False, "ended failed, expected success"),)),
    make_result("deploy", "acme/api", "skipped", message="need build failed"),
    make_result("lint", "acme/api", "timeout", run_id="r3", status="streaming",
                message="no change for 10m (stall_timeout)\x1b[31m"),
)


def config_with(path):
    return SessionConfig(task_file=None, project_dir=None, base_url=None,
                         options={"junit": str(path) if path else None})


def test_junit_report_has_one_case_per_run(tmp_path):
    target = tmp_path / "reports" / "mogrun.xml"
    host = PluginHost.bundled_only()
    host.configure(config_with(target))
    host.session_finished(config=config_with(target), results=RESULTS, exit_code=1)
    root = ET.parse(target).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("build", "acme/api", "61.250"), ("build", "acme/web", "3.000"),
        ("deploy", "acme/api", "0.000"), ("lint", "acme/api", "0.000")]
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    assert cases[1].find("failure").get("message") == \
        "failed: status: ended failed, expected success"
    assert cases[2].find("skipped").get("message") == "need build failed"
    timeout = cases[3].find("failure")
    assert timeout.get("type") == "timeout"
    assert timeout.get("message") == \
        "timeout (status streaming): no change for 10m (stall_timeout)\ufffd[31m"
    props = {p.get("name"): p.get("value") for p in cases[1].iter("property")}
    assert props == {"run_id": "r2", "status": "failed"}
    assert host.warnings == []


def test_no_junit_option_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    PluginHost.bundled_only().session_finished(config=config_with(None), results=RESULTS,
                                               exit_code=0)
    assert list(tmp_path.iterdir()) == []


def test_junit_to_a_directory_is_refused_before_runs(tmp_path):
    from mogrun.errors import UsageError

    with pytest.raises(UsageError, match="is a directory"):
        PluginHost.bundled_only().configure(config_with(tmp_path))


@pytest.mark.parametrize("path", ["", "  ", "reports/", "new/reports/"])
def test_an_empty_or_folder_junit_path_is_refused_before_runs(tmp_path, path):
    # `--junit "$REPORT"` with REPORT unset wrote nothing and said nothing (exit 0);
    # `--junit reports/` wrote a file named "reports"
    from mogrun.errors import UsageError

    config = SessionConfig(task_file=None, project_dir=None, base_url=None,
                           options={"junit": path}, cwd=str(tmp_path))
    with pytest.raises(UsageError, match=r"empty|names a directory"):
        PluginHost.bundled_only().configure(config)
    assert list(tmp_path.iterdir()) == []


def test_a_detached_run_is_skipped_not_failed(tmp_path):
    # --detach exits 0, but its runs were each a <failure>: a red report for a green step
    target = tmp_path / "mogrun.xml"
    results = (make_result("long", "acme/api", "detached", run_id="r1", status="pending"),
               make_result("long", "acme/web", "success", run_id="r2", duration=1.0))
    PluginHost.bundled_only().session_finished(config=config_with(target), results=results,
                                               exit_code=0)
    suite = ET.parse(target).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("2", "0", "0", "1")
    detached, passed = suite.findall("testcase")
    assert detached.find("failure") is None
    assert detached.find("skipped").get("message") == junit.DETACHED
    assert passed.find("failure") is None and passed.find("skipped") is None


def test_junit_to_standard_output_is_refused_before_runs(tmp_path):
    # `--junit -` wrote a file named "-" in the project
    from mogrun.errors import UsageError

    config = SessionConfig(task_file=None, project_dir=None, base_url=None,
                           options={"junit": "-"}, cwd=str(tmp_path))
    with pytest.raises(UsageError, match="cannot go to standard output; give a file path"):
        PluginHost.bundled_only().configure(config)
    assert list(tmp_path.iterdir()) == []


def test_junit_report_replaces_the_old_one_whole(tmp_path):
    # The report was rewritten in place: a reader (a CI upload) that had the old file
    # open saw it truncated mid-write. A new file renamed over it leaves that one whole.
    target = tmp_path / "mogrun.xml"
    target.write_text("<old/>", encoding="utf-8")
    with target.open(encoding="utf-8") as reader:
        PluginHost.bundled_only().session_finished(config=config_with(target),
                                                   results=RESULTS, exit_code=1)
        assert reader.read() == "<old/>"
    assert ET.parse(target).getroot().find("testsuite").get("tests") == "4"
    assert [p.name for p in tmp_path.iterdir()] == ["mogrun.xml"]  # no temporary left


def test_unwritable_junit_path_is_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    host = PluginHost.bundled_only()
    host.session_finished(config=config_with(blocker / "x.xml"), results=RESULTS, exit_code=1)
    assert host.warnings[0].startswith('plugin "junit" failed in mogrun_session_finished: ')


def test_failure_message_lists_every_failing_gate():
    result = make_result(outcome="gate_failed", status="success", gates=(
        GateVerdict("status", True, "status success"),
        GateVerdict("max_duration", False, "took 25m, longer than max_duration 20m"),
        GateVerdict("team_gate", False, "no edit_file")))
    assert junit.failure_message(result) == ("gate_failed (status success): max_duration: took "
                                             "25m, longer than max_duration 20m; team_gate: "
                                             "no edit_file")


def test_entries_with_an_empty_url_are_dropped_after_checking_them():
    assert notify.validate([{"slack": ""}, {"webhook": "https://x.example.com/h"},
                            {"webhook": "  ", "on": ["always"]}]) == [
        {"webhook": "https://x.example.com/h", "on": list(notify.DEFAULT_ON)}]
    assert notify.validate({"slack": ""}) == []
    with pytest.raises(ValueError) as info:
        notify.validate([{"slack": "", "on": ["failure"]}])
    assert str(info.value).startswith('notify[1].on: unknown value "failure"')
