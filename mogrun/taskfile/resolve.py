"""From task file to ``ResolvedJob``: defaults merged, templates rendered, one
``RunPlan`` per repo with its own idempotency key, plugin keys validated and
the server's limits checked — all before any request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mogrun.durations import parse_duration
from mogrun.errors import TaskFileError
from mogrun.models import KeySpec, ResolvedJob, RunPlan, StartRequest
from mogrun.taskfile.graph import job_order, needs_of
from mogrun.taskfile.limits import MAX_KEY, check_request
from mogrun.taskfile.parse import TaskFile
from mogrun.taskfile.schema import DEFAULT_TIMEOUT
from mogrun.taskfile.templates import Rendered, Scope, TemplateClock, render


@dataclass(frozen=True)
class _Context:
    """What every job of one resolution shares."""

    taskfile: TaskFile
    key_specs: Mapping[str, KeySpec]
    vars: Mapping[str, str]
    env: Mapping[str, str]
    clock: TemplateClock
    missing_env: bool = False
    timeout_override: float | None = None
    rerun_suffix: str | None = None


class _Job:
    """One job being resolved: its merged keys, and what rendering collects."""

    def __init__(self, ctx: _Context, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.table = ctx.taskfile.jobs[name]
        self.merged: dict[str, Any] = {**ctx.taskfile.defaults, **self.table}
        self.secrets: set[str] = set()
        self.unset: set[str] = set()
        self.errors: list[TaskFileError] = []  # plugin-key problems, collected for `check`

    def where(self, key: str) -> tuple[str, ...]:
        in_job = key in self.table or key not in self.ctx.taskfile.defaults
        return ("jobs", self.name, key) if in_job else ("defaults", key)

    def fail(self, key: str, message: str) -> TaskFileError:
        from mogrun.masking import mask

        # Messages quote rendered values: env.* values in them are secrets, raw or repr'd.
        secrets = {*self.secrets, *(repr(s)[1:-1] for s in self.secrets)}
        return self.ctx.taskfile.error(f'job "{self.name}", key "{key}": {mask(message, secrets)}',
                                       *self.where(key), job=self.name)

    def render(self, text: str, key: str, repo: str | None, reason: str) -> str:
        scope = Scope(job=self.name, clock=self.ctx.clock, vars=self.ctx.vars, env=self.ctx.env,
                      repo=repo, repo_reason=reason, missing_env=self.ctx.missing_env)
        try:
            out: Rendered = render(text, scope, key)
        except TaskFileError as error:
            if error.location is None:
                error.location = self.ctx.taskfile.location(*self.where(key))
            raise
        self.secrets |= out.secrets
        self.unset |= out.unset_env
        return out.text


def template_vars(taskfile: TaskFile, sets: Mapping[str, str]) -> dict[str, str]:
    """``[vars]`` as strings (TOML spelling for booleans), ``--set`` winning."""
    values = {k: (str(v).lower() if isinstance(v, bool) else str(v))
              for k, v in taskfile.vars.items()}
    return {**values, **sets}


def resolve_jobs(taskfile: TaskFile, names: Sequence[str], *,
                 key_specs: Mapping[str, KeySpec], sets: Mapping[str, str],
                 env: Mapping[str, str], clock: TemplateClock, with_needs: bool = True,
                 timeout_override: float | None = None,
                 rerun_suffix: str | None = None) -> list[ResolvedJob]:
    """The named jobs (and their needs), needs first, ready to show or start."""
    from mogrun.taskfile.validation import structural_errors

    errors = structural_errors(taskfile, key_specs)
    if errors:
        raise _first(errors)
    order = job_order(taskfile, names, with_needs)
    ctx = _Context(taskfile, key_specs, template_vars(taskfile, sets), env, clock,
                   timeout_override=timeout_override, rerun_suffix=rerun_suffix)
    jobs = [_resolve(ctx, name) for name in order]
    included = set(order)
    return [replace(job, needs=tuple(n for n in job.needs if n in included)) for job in jobs]


def _first(errors: list[TaskFileError]) -> TaskFileError:
    first = errors[0]
    if len(errors) > 1:
        more = len(errors) - 1
        first.context = (*first.context, f"({more} more problem{'s' * (more > 1)}: "
                                         "run `mogrun check` to see them all)")
    return first


def check_render(taskfile: TaskFile, name: str, *, key_specs: Mapping[str, KeySpec],
                 env: Mapping[str, str],
                 sets: Mapping[str, str]) -> tuple[list[TaskFileError], set[str]]:
    """Resolve one job as ``check`` does: its problems (every plugin key's, then
    the first other one) and the unset ``env`` names it uses."""
    ctx = _Context(taskfile, key_specs, template_vars(taskfile, sets), env,
                   TemplateClock.now(), missing_env=True)
    job = _Job(ctx, name)
    try:
        _build(job)
    except TaskFileError as error:
        job.errors.append(error)
    return job.errors, job.unset


def _resolve(ctx: _Context, name: str) -> ResolvedJob:
    return _build(_Job(ctx, name))


def _build(job: _Job) -> ResolvedJob:
    merged = job.merged
    repos = _repos(job)
    options = _options(job, repos)
    runs = _runs(job, repos)
    timeout = job.ctx.timeout_override
    if timeout is None:
        timeout = parse_duration(merged.get("timeout", DEFAULT_TIMEOUT))
    return ResolvedJob(
        name=job.name, description=str(merged.get("description", "")),
        needs=tuple(needs_of(job.ctx.taskfile, job.name)), runs=tuple(runs), timeout=timeout,
        on_timeout=merged.get("on_timeout", "cancel"), harness=merged.get("harness"),
        options=options, secrets=frozenset(job.secrets))


def _repos(job: _Job) -> list[str]:
    raw = job.merged["repo"]
    listed = raw if isinstance(raw, list) else [raw]
    repos = [job.render(r, "repo", None, "inside repo itself").strip() for r in listed]
    for repo in repos:
        if not repo or any(c.isspace() for c in repo):
            raise job.fail("repo", f"{repo!r} is not a repo (owner/name or id)")
    if len({r.casefold() for r in repos}) != len(repos):  # owner/name resolves ignoring case
        raise job.fail("repo", "the same repo is listed twice after templating")
    return repos


def _prompt_source(job: _Job) -> str:
    if "prompt" in job.merged:
        prompt: str = job.merged["prompt"]
        return prompt
    relative: str = job.merged["prompt_file"]
    try:
        return (job.ctx.taskfile.project_dir / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise job.fail("prompt_file", f"cannot read prompt file {relative}: {exc}") from exc


def _runs(job: _Job, repos: list[str]) -> list[RunPlan]:
    source = _prompt_source(job)
    requests = [_request(job, repo, source) for repo in repos]
    keys = [r.idempotency_key for r in requests]
    if len(set(keys)) < len(keys):
        requests = [replace(r, idempotency_key=f"{r.idempotency_key}:{r.repo}") for r in requests]
        for written, request in zip(keys, requests, strict=True):
            if len(written.strip()) <= MAX_KEY < len(request.idempotency_key):
                raise job.fail("idempotency_key", f"the idempotency key is {len(written)} "
                               f"characters, {len(request.idempotency_key)} with the fan-out "
                               f'suffix ":{request.repo}"; the server accepts at most {MAX_KEY} '
                               "(shorten it, or make it differ per repo with {{ repo }})")
    if job.ctx.rerun_suffix:
        for request in requests:
            written = request.idempotency_key
            longer = written + job.ctx.rerun_suffix
            if len(written) <= MAX_KEY < len(longer):
                raise job.fail("idempotency_key", f"the idempotency key is {len(written)} "
                               f"characters, {len(longer)} with the --rerun suffix; the server "
                               f"accepts at most {MAX_KEY} (shorten it)")
        requests = [replace(r, idempotency_key=r.idempotency_key + job.ctx.rerun_suffix)
                    for r in requests]
    for request in requests:
        check_request(request, job.fail)
    return [RunPlan(job=job.name, repo=r.repo, request=r) for r in requests]


def _request(job: _Job, repo: str, prompt_source: str) -> StartRequest:
    merged, reason = job.merged, "here"

    def text(key: str) -> str | None:
        value = merged.get(key)
        return None if value is None else job.render(value, key, repo, reason)

    prompt_key = "prompt" if "prompt" in merged else "prompt_file"
    key = text("idempotency_key")
    if key is None:
        key = f"mogrun-{job.name}-{job.ctx.clock.nonce}"
    return StartRequest(
        repo=repo, prompt=job.render(prompt_source, prompt_key, repo, reason),
        idempotency_key=key.strip(), harness=merged.get("harness"),
        base_branch=text("base_branch"), working_branch=text("branch"),
        create_branch=bool(merged.get("create_branch", False)), root_directory=text("root"))


def _options(job: _Job, repos: list[str]) -> dict[str, Any]:
    """Plugin keys: strings templated (recursively), then the plugin's ``validate``."""
    repo = repos[0] if len(repos) == 1 else None
    reason = "in a plugin key of a fan-out job (it has several repos)"
    options: dict[str, Any] = {}
    for key, spec in job.ctx.key_specs.items():
        if key not in job.merged:
            continue
        unset_before = set(job.unset)
        try:
            value = _render_value(job, job.merged[key], key, repo, reason)
        except TaskFileError as error:
            if not job.ctx.missing_env:
                raise
            job.errors.append(error)  # `check`: the other plugin keys are still judged
            continue
        try:
            options[key] = spec.validate(value)
        except (ValueError, TypeError) as exc:
            if job.unset - unset_before:
                continue  # `check` with an unset env name: warned about, judged when run
            if not job.ctx.missing_env:
                raise job.fail(key, str(exc)) from exc
            job.errors.append(job.fail(key, str(exc)))
            continue
        if spec.secrets is not None:
            job.secrets |= {s for s in spec.secrets(options[key]) if isinstance(s, str) and s}
    return options


def _render_value(job: _Job, value: Any, key: str, repo: str | None, reason: str) -> Any:
    if isinstance(value, str):
        return job.render(value, key, repo, reason)
    if isinstance(value, list):
        return [_render_value(job, v, key, repo, reason) for v in value]
    if isinstance(value, dict):
        return {k: _render_value(job, v, key, repo, reason) for k, v in value.items()}
    return value


def repos_named(taskfile: TaskFile, sets: Mapping[str, str] | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
    """Every owner/name the file names, templates rendered as a run renders them
    (``[vars]`` with ``sets``, and ``env``), once each; a repo that uses an unset
    ``env`` name is left out."""
    clock = TemplateClock.now()
    variables = template_vars(taskfile, sets or {})
    found: list[str] = []
    for name, table in taskfile.jobs.items():
        raw = {**taskfile.defaults, **table}.get("repo", [])
        for repo in raw if isinstance(raw, list) else [raw]:
            if not isinstance(repo, str):
                continue
            scope = Scope(job=name, clock=clock, vars=variables, env=env or {},
                          missing_env=True)
            try:
                rendered = render(repo, scope, "repo")
            except TaskFileError:
                continue
            text = rendered.text.strip()
            if "/" in text and not rendered.unset_env and text not in found:
                found.append(text)
    return found
