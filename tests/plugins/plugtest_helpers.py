"""Hand-made jobs, runs and results for plugin tests (importable by its unique name)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mogrun.models import ResolvedJob, RunPlan, StartRequest
from mogrun.pluginhost import PluginHost
from mogrun.runs import RunResult, RunState

TOKEN = "mog_live_abcdef123456"
# How the first warning of a hook asked at every poll or event (``% hook``) ends.
ONCE = " (said once: its later failures in %s are not repeated)"


def host_with_token(plugin: object, name: str) -> PluginHost:
    """A host of ``plugin`` (named ``name``) alone, knowing the invocation's token
    as the CLI tells it first: what its messages must mask."""
    host = PluginHost.from_plugins((name, plugin), bundled=False)
    host.learn_secrets([TOKEN])
    return host


def make_request(repo: str = "acme/api") -> StartRequest:
    return StartRequest(repo=repo, prompt="do it", idempotency_key=f"k-{repo}")


def make_job(name: str = "nightly", options: dict | None = None, repos=("acme/api",),
             secrets=frozenset()) -> ResolvedJob:
    runs = tuple(RunPlan(job=name, repo=r, request=make_request(r)) for r in repos)
    return ResolvedJob(name=name, description="", needs=(), runs=runs, timeout=60.0,
                       options=options or {}, secrets=frozenset(secrets))


def make_state(status: str = "success", created: str = "2026-01-01T00:00:00Z",
               updated: str = "2026-01-01T00:05:00Z") -> RunState:
    return RunState(run_id="run_1", status=status, created_at=created, updated_at=updated)


def make_result(job: str = "nightly", repo: str = "acme/api", outcome: str = "success",
                **kw) -> RunResult:
    kw.setdefault("status", outcome if outcome in ("success", "failed", "cancelled") else None)
    return RunResult(job=job, repo=repo, outcome=outcome, **kw)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records every POST it gets (and when),
    answering with ``statuses`` in turn, then 200: each a status, or a (status,
    headers) pair."""

    def __init__(self, statuses=()):
        self.received: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(body), "at": time.monotonic()})
                answer = receiver.statuses.pop(0) if receiver.statuses else 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def notify_job(targets: object) -> ResolvedJob:
    """A job with the bundled notify plugin's ``targets``, their URLs its secrets."""
    from mogrun_plugins import notify

    options = {"notify": notify.validate(targets)}
    return make_job(options=options, secrets=frozenset(notify.secrets(options["notify"])))


def notified(host: PluginHost, job: ResolvedJob, results: tuple[RunResult, ...],
             outcome: str) -> PluginHost:
    """The job's end, then the session's: the deliveries (sent on their own threads
    as the job ends) are waited for and their failures reported then."""
    from mogrun.models import SessionConfig

    host.job_finished(job=job, results=results, outcome=outcome)
    host.session_finished(config=SessionConfig(task_file=None, project_dir=None, base_url=None,
                                               options={"junit": None}),
                          results=results, exit_code=0)
    return host
