"""Bundled plugin: tell a webhook or a Slack channel how a job ended.

Job key ``notify = [{webhook = URL, on = [...]}, {slack = URL, on = [...]}]``
(a single table is accepted too). ``on`` takes success, failed, cancelled,
timeout, gate_failed, skipped and always; without it every outcome but
success is sent. An entry whose URL is empty (``{{ env.SLACK_WEBHOOK_URL |
default("") }}`` where the variable is unset) is skipped: notifications can be
optional per environment. The URLs are secrets: mogrun masks them wherever it prints or
stores them. Messages go through mogrun's own HTTP layer
(``mogrun.plugin.post_json_answer``) with a short timeout and one retry (after
the webhook's Retry-After), and never carry the API token.

They are sent as each job ends, each on its own thread: a webhook that does not
answer holds neither the job's result line nor the jobs after it (the job's end
is on the scheduler's thread), and three of them take one timeout, not three.
The session's end waits for them (at most ``TRIES`` x ``TIMEOUT`` and a
``Retry-After`` of up to ``LONGEST_RETRY_AFTER``); one that
could not be delivered is raised then, and the host reports it as a warning:
the job's result stands.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mogrun.plugin import (
    NOTIFY_OUTCOMES,
    Interrupted,
    KeyProblems,
    MogrunError,
    NotifyError,
    Outcome,
    PostAnswer,
    Problems,
    TransportError,
    format_duration,
    hookimpl,
    mask,
    mask_data,
    post_json_answer,
    start_without_signals,
    strings,
    table,
    type_name,
    web_url,
)

KEY = "notify"
KINDS = ("webhook", "slack")
ALWAYS = "always"
DEFAULT_ON = tuple(o for o in NOTIFY_OUTCOMES if o != Outcome.SUCCESS)
TIMEOUT = 5.0
TRIES = 2
RETRY_PAUSE = 1.0  # seconds before retrying a refused post that named no Retry-After
LONGEST_RETRY_AFTER = 10.0  # a Retry-After longer than this is not waited for
JOIN_SLICE = 0.1  # seconds: how late a second Ctrl-C during deliveries can be noticed
# For `mogrun schema` (editors): never stricter than validate (URLs are templated).
_ENTRY = {"type": "object", "additionalProperties": False,
          "properties": {"webhook": {"type": "string"}, "slack": {"type": "string"},
                         "on": {"type": "array", "items": {"type": "string", "minLength": 1}}},
          "oneOf": [{"required": ["webhook"]}, {"required": ["slack"]}]}
SCHEMA = {"anyOf": [_ENTRY, {"type": "array", "items": _ENTRY}]}


def validate(value: Any) -> list[dict[str, Any]]:
    """A list of ``{kind: url, "on": [...]}`` targets; ``[]`` (none) switches off a
    ``[defaults]`` notify for one job. A problem never quotes a string of the value
    (``secrets``): a URL in the wrong place (``notify = "URL"``) is still a secret."""
    try:
        return _targets(value)
    except KeyProblems as problems:
        hidden = secrets(value)
        raise KeyProblems([(where, mask(message, hidden))
                           for where, message in problems.problems]) from None


def _targets(value: Any) -> list[dict[str, Any]]:
    """The targets of ``validate``; ``KeyProblems`` for every problem."""
    items = [value] if isinstance(value, dict) else value
    found = Problems()
    if not isinstance(items, list):
        found.add("", 'notify must be a list of tables like [{ webhook = "https://...", '
                      f'on = ["failed"] }}], not {type_name(value)}')
        found.done()
    if not items:  # a job's way to switch off the notify it takes from [defaults]
        return []
    # Each item's problems are located under its index (a lone table has none).
    targets = [found.judge(str(i - 1) if items is value else "", _target, item, i)
               for i, item in enumerate(items, 1)]
    found.done()
    return [target for target in targets if target is not None]


def _target(item: Any, index: int) -> dict[str, Any] | None:
    """One target, or ``None`` when its URL rendered empty (the whole entry is
    still checked, so a typo in ``on`` is caught where the URL is set)."""
    where = f"notify[{index}]"
    found = Problems()  # an unknown sub-key is one more problem: the others are still said
    raw = table(item, where, (*KINDS, "on"), found)
    on = found.judge("on", strings, raw.get("on", list(DEFAULT_ON)), f"{where}.on",
                     choices=(*NOTIFY_OUTCOMES, ALWAYS))
    if on == []:  # a target that can never be sent is a mistake, not a switch
        found.add("on", f"{where}.on is empty, so this target is never sent; name the outcomes "
                        f"to send on ({', '.join((*NOTIFY_OUTCOMES, ALWAYS))}), or remove it "
                        "(notify = [] switches off a [defaults] notify)")
    kinds = [kind for kind in KINDS if kind in raw]
    if len(kinds) != 1:
        found.add("", f"{where} needs exactly one of webhook = URL or slack = URL")
        found.done()
    kind = kinds[0]
    if isinstance(raw[kind], str) and not raw[kind].strip():
        found.done()
        return None
    url = found.judge(kind, web_url, raw[kind], f"{where}.{kind}")
    found.done()
    return {kind: url, "on": on}


# Words of the key's own, which its messages say ("needs exactly one of webhook = URL
# or slack = URL"): a value spelt as one (``kind = "webhook"``) is no credential, and
# masking it would blank the word out of every message and quoted line.
VOCABULARY = frozenset((*KINDS, "on", *NOTIFY_OUTCOMES, ALWAYS))


def secrets(value: Any) -> list[str]:
    """Every string of the value but the outcome names under ``on`` and the key's
    own words (``VOCABULARY``): the webhook URLs of a valid value (a Slack hook
    URL is a bearer credential), and of a malformed one wherever they were
    written (``notify = ["URL"]``, ``{ webhok = URL }``), as its error and the
    line it quotes show it."""
    if isinstance(value, str):
        return [] if value in VOCABULARY else [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "on" for s in secrets(item)]
    if isinstance(value, list):
        return [s for item in value for s in secrets(item)]
    return []


def wants(target: dict[str, Any], outcome: str) -> bool:
    on = target["on"]
    outcome = Outcome.FAILED if outcome == Outcome.ERROR else outcome
    return ALWAYS in on or outcome in on


def webhook_payload(job: Any, results: tuple[Any, ...], outcome: str) -> dict[str, Any]:
    """A plain JSON document: the job, its outcome and each run."""
    return {
        "source": "mogrun",
        "job": job.name,
        "outcome": outcome,
        "runs": [
            {"repo": r.repo, "run_id": r.run_id, "outcome": r.outcome, "status": r.status,
             "duration": r.duration, "message": r.message,
             "gates": [{"gate": g.gate, "passed": g.passed, "reason": g.reason}
                       for g in r.gates]}
            for r in results
        ],
    }


def slack_payload(job: Any, results: tuple[Any, ...], outcome: str) -> dict[str, Any]:
    """Slack's incoming-webhook shape: ``{"text": ...}``."""
    lines = [f"mogrun: job *{slack_escape(job.name)}* {outcome}"]
    for r in results:
        why = r.why  # the terminal's words: the run's error, then each failed gate
        run = f" run {r.run_id}" if r.run_id else ""
        lines.append(slack_escape(f"• {r.repo}{run}: {r.outcome}" + (f" ({why})" if why else "")))
    return {"text": "\n".join(lines)}


def slack_escape(text: str) -> str:
    """Agent text must not ping a channel (``<!channel>``) or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def deliver(url: str, payload: dict[str, Any], post: Callable[..., PostAnswer],
            sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Post, retrying once what may pass (no answer, 429, 5xx); ``None`` on
    success, else why it failed. A refused post is retried after its
    ``Retry-After`` (``RETRY_PAUSE`` without one): Slack answers a burst of posts
    (a fan-out's jobs ending together) with 429s, and one retried at once was
    refused again and lost. A Retry-After past ``LONGEST_RETRY_AFTER`` is not
    waited: the post fails at once, saying when the webhook would take it."""
    problem = None
    for attempt in range(1, TRIES + 1):
        try:
            answer = post(url, payload, timeout=TIMEOUT)
        except TransportError as exc:
            problem = exc.message
            continue
        except Interrupted:
            raise  # Ctrl-C again while delivering: the user wants out now
        except MogrunError as exc:  # a URL mogrun refuses: retrying cannot help
            return exc.message
        status = answer.status
        if 200 <= status < 300:
            return None
        problem = f"HTTP {status}"
        if status < 500 and status != 429:
            break
        pause = RETRY_PAUSE if answer.retry_after is None else answer.retry_after
        if pause > LONGEST_RETRY_AFTER:
            return (f"{problem}, asked to retry after {format_duration(math.ceil(pause))} "
                    f"(a notification waits {format_duration(LONGEST_RETRY_AFTER)} at most)")
        if attempt < TRIES:
            sleep(pause)
    return problem


@hookimpl
def mogrun_job_keys(register: Callable[..., None]) -> None:
    register(KEY, validate, help="notifiers: [{webhook|slack = URL, on = [...]}]",
             secrets=secrets, schema=SCHEMA)


class _Sending:
    """The deliveries of this session not yet waited for, and why any failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def send(self, job: Any, what: str, url: str, payload: dict[str, Any]) -> None:
        def deliver_it() -> None:
            problem = deliver(url, payload, post_json_answer)
            if problem is not None:
                with self.lock:
                    self.failures.append(f'{what} of job "{job.name}": '
                                         + mask(problem, [url, *job.secrets]))

        with self.lock:  # blind to Ctrl-C: the main thread joins these, and must get it
            self.threads.append(start_without_signals(deliver_it, f"mogrun-notify-{job.name}"))

    def finish(self) -> list[str]:
        """Wait for every delivery (each bounded); the failures, and start afresh."""
        with self.lock:
            threads, self.threads = self.threads, []
        for thread in threads:
            while thread.is_alive():
                # In slices: a wait that returns to Python runs a Ctrl-C pressed while
                # the one before was still being handled (CPython runs it no sooner).
                thread.join(JOIN_SLICE)
        with self.lock:
            failures, self.failures = self.failures, []
        return failures


_SENDING = _Sending()


@hookimpl
def mogrun_job_finished(job: Any, results: tuple[Any, ...], outcome: str) -> None:
    for index, target in enumerate(job.options.get(KEY) or [], 1):
        if not wants(target, outcome):
            continue
        kind = "slack" if "slack" in target else "webhook"
        payload = (slack_payload if kind == "slack" else webhook_payload)(job, results, outcome)
        payload = mask_data(payload, job.secrets)  # a repo or message may hold an env.* value
        what = f"{kind} #{index} ({urlsplit(target[kind]).hostname})"
        _SENDING.send(job, what, target[kind], payload)


@hookimpl
def mogrun_session_finished(config: Any, results: tuple[Any, ...], exit_code: int) -> None:
    failures = _SENDING.finish()
    if failures:
        raise NotifyError("could not notify: " + "; ".join(failures))
