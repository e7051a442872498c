"""One job from task file to ``ResolvedJob``: defaults merged, templates
rendered, one ``RunPlan`` per repo with its own idempotency key, plugin keys
validated and the server's limits checked.

Building never raises for a problem of the file: it returns a ``JobResult``
whose problems are data, so ``run``/``show`` can refuse on the first and
``check`` can list them all. An unset ``env`` name is kept apart
(``unset_env``): ``run`` refuses it, ``check`` only warns. Runs of the jobs
built together whose keys render the same are a problem of the file
(``key_clashes``): both take it from here.
"""

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from mogrun.durations import parse_duration
from mogrun.errors import (
    Location,
    MogrunError,
    TaskFileError,
    TemplateError,
    UnknownKeyError,
    ValidatorCrash,
)
from mogrun.models import MAX_KEY, KeySpec, ResolvedJob, RunPlan, StartRequest, fitted_key
from mogrun.plugintables import problems_of
from mogrun.reponames import is_full_name, is_repo_id, name_problem
from mogrun.taskfile.graph import needs_of
from mogrun.taskfile.limits import key_length_problem, request_problems
from mogrun.taskfile.parse import TaskFile, inherited
from mogrun.taskfile.schema import DEFAULT_CAPACITY_WAIT, DEFAULT_TIMEOUT, LONGEST
from mogrun.taskfile.templates import (
    TOKEN_NAME,
    UNSET_STAND_IN,
    Rendered,
    Scope,
    TemplateClock,
    VarTemplateError,
    literal_text,
    render,
    template_names,
    unset_env_error,
)
from mogrun.textsafety import escape_agent_text
from mogrun.tomltext import toml_repr


class Context(NamedTuple):
    """What every job of one resolution shares.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    taskfile: TaskFile
    key_specs: Mapping[str, KeySpec]
    vars: Mapping[str, str]
    env: Mapping[str, str]
    clock: TemplateClock
    timeout_override: float | None = None
    rerun_suffix: str | None = None
    templated: frozenset[str] = frozenset()  # the vars whose values are templates

    def scope(self, job: str, **kwargs: Any) -> Scope:
        """A template scope of job ``job`` (the vars located in the file)."""
        return Scope(job=job, clock=self.clock, vars=self.vars, env=self.env,
                     templated=self.templated, var_location=self._var_location, **kwargs)

    def _var_location(self, name: str) -> Location:
        return self.taskfile.location("vars", name)


class JobResult(NamedTuple):
    """A built job (``None`` when a problem stopped it), its problems in the
    order found, each unset ``env`` name it uses with the error ``run``
    raises for it, and every ``env`` name its templates read (set or not).
    ``run_keys`` are its runs' idempotency keys as written in the file
    renders them, ``(repo of a fan-out run or None, key)``, for
    ``key_clashes``: none for a job with no key of its own (mogrun makes one
    per job), one that triggers an automation (the trigger key names the
    job), or whose key or repo uses an unset ``env`` name (not guessed)."""

    name: str
    job: ResolvedJob | None
    problems: list[MogrunError]
    unset_env: dict[str, TemplateError]
    env_names: frozenset[str]
    run_keys: tuple[tuple[str | None, str], ...]
    secrets: frozenset[str]


class _Stop(Exception):
    """A problem after which this job cannot be built further (already recorded)."""


class _Job:
    """One job being built: its merged keys, and what rendering collects."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.table = ctx.taskfile.jobs[name]
        self.merged: dict[str, Any] = ctx.taskfile.job_keys(name)
        self.secrets: set[str] = set()
        self.unset: dict[str, TemplateError] = {}
        self.env_names: set[str] = set()
        self.problems: list[MogrunError] = []
        self.seen: set[tuple[str, object]] = set()  # what ``record`` has: one lookup each
        self.seen_upto = 0  # problems[:seen_upto] are in ``seen``
        self.unrendered: set[str] = set()  # keys with a template problem
        self.unset_in: set[str] = set()  # keys that use an unset env name
        self.run_keys: tuple[tuple[str | None, str], ...] = ()
        self.wrong_repo = False  # a repo is not one: what is made from it is not judged

    def where(self, key: str) -> tuple[str, ...]:
        in_job = key in self.table or key not in self.ctx.taskfile.defaults
        return ("jobs", self.name, key) if in_job else ("defaults", key)

    def locator(self, key: str, *sub: str | int) -> Callable[[], Location]:
        return lambda: self.location(key, *sub)

    def location(self, key: str, *sub: str | int) -> Location:
        """Where ``key`` (its ``sub`` path) is written. When the key's plugin lists
        secrets in its values (a webhook URL), its line is quoted with those written
        out in the file masked in place (a caret under it still lines up; a template
        is no secret, its env value is never in the file, but the text around one
        is: ``.../services/{{ team }}/B0/X``), or not at all when the plugin cannot
        list them in this value. (The line came with every URL's path masked,
        ``positions.source_line``: each secret is masked as written and as that
        left it.)"""
        where = self.ctx.taskfile.location(*self.where(key), *sub)
        spec = self.ctx.key_specs.get(key)
        if spec is None or spec.secrets is None or where.source_line is None:
            return where
        try:
            written = spec.secrets_in(self.merged.get(key))
        except Exception:  # a value its plugin cannot read: the line is not quoted
            return where._replace(source_line=None)
        return line_masked(where, written)

    def error(self, key: str, message: str, *sub: str | int,
              hidden: Collection[str] = ()) -> TaskFileError:
        """A problem of ``key`` (at its ``sub`` path when given: ``gates.max_duration``
        written as a dotted key has a line of its own, ``notify[1].on`` too).
        ``hidden``: more secrets the message may quote (those the key's plugin lists
        in the value it refused)."""
        return TaskFileError(f'job "{self.name}", key "{key}": {self.masked(message, hidden)}',
                             location=self.location(key, *sub), job=self.name, key=key)

    def masked(self, message: str, hidden: Collection[str] = ()) -> str:
        """``message`` with the job's secrets masked: messages quote rendered
        values, and env.* values in them are secrets, raw or quoted (by ``toml_repr``,
        or a plugin's ``repr``); so is the
        API token (a plugin key's validator may quote it), and each of ``hidden``."""
        from mogrun.masking import mask
        secrets = {*self.secrets, *hidden, self.ctx.env.get(TOKEN_NAME) or ""} - {""}
        return mask(message, {*secrets, *(spelled[1:-1] for s in secrets
                                          for spelled in (repr(s), toml_repr(s)))})

    def record(self, error: MogrunError) -> None:
        """Record ``error`` once: a fan-out renders most keys once per repo (a set:
        a prompt with a thousand problems must not compare each with the others)."""
        for seen in self.problems[self.seen_upto:]:  # those appended without ``record``
            self.seen.add(_identity(seen))
        self.seen_upto = len(self.problems)
        if _identity(error) not in self.seen:
            self.problems.append(error)

    def stop(self, error: MogrunError) -> _Stop:
        """Record ``error`` and end this job's building (``raise job.stop(...)``)."""
        self.problems.append(error)
        return _Stop()

    @property
    def partly_rendered(self) -> bool:
        """A template could not be rendered or a repo is wrong: a value left as
        written, or made from a wrong repo, must not be judged as if it were right."""
        return bool(self.unrendered) or self.wrong_repo

    def check_rendered(self) -> None:
        """End the building before judging rendered values when ``partly_rendered``."""
        if self.partly_rendered:
            raise _Stop()

    def fail(self, key: str, message: str) -> _Stop:
        return self.stop(self.error(key, message))

    def render(self, text: str, key: str, repo: str | None, reason: str,
               *sub: str | int) -> str:
        return self.rendered(text, key, repo, reason, *sub).text

    def rendered(self, text: str, key: str, repo: str | None, reason: str,
                 *sub: str | int) -> Rendered:
        """``text`` rendered, with the ``env.*`` values it used (``text`` itself
        when a template is wrong: the problem is recorded, located at ``key``'s
        ``sub`` path when given: an entry of a list). Most values hold no template:
        no scope is made for those."""
        if "{{" not in text:
            return Rendered(text)
        scope = self.ctx.scope(self.name, repo=repo, repo_reason=reason,
                               location=self.locator(key, *sub))
        try:
            out = render(text, scope, key)
        except TemplateError as error:
            # Recorded, and the other keys still rendered: check lists every template
            # problem. Once each: a fan-out renders most keys once per repo.
            for each in getattr(error, "errors", (error,)):
                self.record(each)
            self.unrendered.add(key)
            unset, out = error.unset_env, Rendered(text)
        else:
            self.secrets |= out.secrets
            self.env_names |= out.env_names
            unset = out.unset_env
            if unset:
                self.unset_in.add(key)
        for name, placeholder in unset.items():
            self.unset.setdefault(name, unset_env_error(name, placeholder, scope, key, text))
        return out


def _identity(error: MogrunError) -> tuple[str, object]:
    """What makes two problems one: the same message at the same place."""
    return error.message, getattr(error, "location", None)


def build_job(ctx: Context, name: str) -> JobResult:
    """Build job ``name``; every problem is in the result, none is raised."""
    job = _Job(ctx, name)
    try:
        built: ResolvedJob | None = _build(job)
    except _Stop:
        built = None
    if job.problems or job.unset:  # placeholders stand in for unset env names
        built = None
    return JobResult(name, built, job.problems, dict(job.unset), frozenset(job.env_names),
                     job.run_keys, frozenset(job.secrets))


def _build(job: _Job) -> ResolvedJob:
    merged = job.merged
    repos = _repos(job)  # a wrong one is recorded: the other keys are judged all the same
    options = _options(job, None if job.wrong_repo else repos)
    automation, secret = merged.get("automation"), False
    if automation is not None:
        named = job.rendered(automation, "automation", None, "in automation")
        # From env.* it is a secret however short (masking skips short values).
        automation, secret = named.text.strip(), any(named.secrets)
        if not automation:
            raise job.fail("automation", "empty: give a published automation's id or name "
                                         "(`mogrun automations` lists them)")
    runs = _runs(job, repos) if automation is None else _trigger_runs(job, repos)
    timeout = job.ctx.timeout_override
    if timeout is None:
        timeout = _seconds(job, "timeout", DEFAULT_TIMEOUT)
    return ResolvedJob(
        name=job.name, description=str(merged.get("description", "")),
        needs=tuple(needs_of(job.ctx.taskfile, job.name)), runs=tuple(runs), timeout=timeout,
        on_timeout=merged.get("on_timeout", "cancel"),
        capacity_wait=_seconds(job, "capacity_wait", DEFAULT_CAPACITY_WAIT),
        harness=merged.get("harness") if automation is None else None,
        options=options, secrets=_with_token(job), automation=automation,
        automation_secret=secret)


def _with_token(job: _Job) -> frozenset[str]:
    """The job's secrets and the API token: a token pasted into a prompt (or an agent
    that echoes it) is masked wherever the job's text is shown or recorded."""
    token = (job.ctx.env.get(TOKEN_NAME) or "").strip()
    return frozenset(job.secrets | ({token} if token else set()))


def _seconds(job: _Job, key: str, default: float) -> float:
    """A duration key; a wrong one is a problem of the job, never an exception
    (validation stops such a job before it is built; this holds if it ever does not)."""
    try:
        return parse_duration(job.merged.get(key, default), longest=LONGEST[key])
    except ValueError as exc:
        raise job.fail(key, str(exc)) from None


def _repos(job: _Job) -> list[str]:
    raw = job.merged["repo"]
    # Each entry of a list is located at itself: a fan-out lists dozens, one per line.
    listed = list(enumerate(raw)) if isinstance(raw, list) else [(None, raw)]
    at = {index: () if entry is None else (entry,) for index, (entry, _) in enumerate(listed)}
    repos = [job.render(r, "repo", None, "inside repo itself", *at[i]).strip()
             for i, (_, r) in enumerate(listed)]
    if "repo" in job.unrendered:
        return repos  # as written: the other keys are still rendered with them
    # A stand-in for an unset env name is no repo to judge (check only warns about
    # the name), nor is what is made from it; the list's other repos still are (check
    # said "ok" of "not a repo" beside "acme/{{ env.R }}").
    judged = [i for i, repo in enumerate(repos) if UNSET_STAND_IN not in repo]
    problems = [(at[i], problem) for i in judged
                if (problem := _repo_problem(repos[i], job.masked))]
    if not problems:  # owner/name resolves ignoring case
        from mogrun.taskfile.schema import listed_twice

        problems = [(at[judged[k]], twice)
                    for k, twice in listed_twice([repos[i] for i in judged], " (templated)")]
    for sub, problem in problems:
        job.record(job.error("repo", problem, *sub))
    job.wrong_repo = bool(problems) or "repo" in job.unset_in
    return repos


def _repo_problem(repo: str, masked: Callable[[str], str]) -> str | None:
    """Why a rendered repo cannot be one, judged here only: templates and env
    values make repos that the file does not show as written (``masked``: the
    job's secrets hidden, as the message will show the repo)."""
    if repo and is_full_name(repo):
        return _name_problem(repo, hidden=masked(repo) != repo)
    if not repo or any(c.isspace() for c in repo):
        return f"{toml_repr(repo)} is not a repo (owner/name or id)"
    if not is_full_name(repo) and not is_repo_id(repo):
        return (f"{toml_repr(repo)} is neither owner/name nor a repo id (a UUID, as `mogrun repos` "
                "lists them)")
    return None


def _name_problem(repo: str, *, hidden: bool) -> str | None:
    """An owner/name no GitHub repo can have (``reponames`` holds the rules). The
    owner or name is not quoted when part of ``repo`` is a secret (``hidden``)."""
    problem = name_problem(repo, lambda text: escape_agent_text(toml_repr(text)), hidden=hidden)
    if problem is None:
        return None
    return f"{escape_agent_text(toml_repr(repo))} is not a GitHub owner/name: {problem}"


def _prompt_source(job: _Job) -> str:
    """The prompt as written: inline, or read from ``prompt_file`` now (a missing
    file stops only the jobs that use it, after their other keys are rendered:
    check lists their template problems too)."""
    from mogrun.taskfile.paths import PromptFileError, read_prompt_file

    if "prompt" in job.merged:
        return str(job.merged["prompt"])
    try:
        return read_prompt_file(job.ctx.taskfile.project_dir, str(job.merged["prompt_file"]))
    except PromptFileError as exc:
        job.problems.append(job.error("prompt_file", str(exc)))
    job.unrendered.add("prompt")  # no prompt to judge: the build ends before the runs
    return ""


def _runs(job: _Job, repos: list[str]) -> list[RunPlan]:
    source = _prompt_source(job)
    requests = [_request(job, repo, source) for repo in repos]
    if job.partly_rendered:
        _judge(job, source, requests)  # the values that could be rendered, all the same
        raise _Stop()
    requests = _per_repo_keys(job, requests)
    if "idempotency_key" in job.merged and job.unset_in.isdisjoint(("idempotency_key", "repo")):
        fan_out = len(requests) > 1
        job.run_keys = tuple((r.repo if fan_out else None, r.idempotency_key) for r in requests)
    suffix = job.ctx.rerun_suffix
    if suffix:
        for request in requests:
            written, longer = request.idempotency_key, request.idempotency_key + suffix
            if len(written) <= MAX_KEY < len(longer) and _own_key(job):
                raise job.fail("idempotency_key", f"the idempotency key is {len(written)} "
                               f"characters, {len(longer)} with the --rerun suffix; the server "
                               f"accepts at most {MAX_KEY} (shorten it)")
        requests = [replace(r, idempotency_key=_suffixed(job, r.idempotency_key, suffix))
                    for r in requests]
    if _judge(job, source, requests):
        raise _Stop()
    return [RunPlan(job=job.name, repo=r.repo, request=r) for r in requests]


def _judge(job: _Job, source: str, requests: list[StartRequest]) -> bool:
    """Record every limit the requests break (each once: a fan-out's repos mostly
    break the same), but in a value left as written (its template failed) or made
    from a wrong repo: those would only add made-up problems. Whether any was."""
    judged = [key for key in ("prompt", "idempotency_key", "branch", "base_branch", "root")
              if _rendered(job, key)]
    before = len(job.problems)
    for request in requests:
        for key, message in request_problems(request):
            if key in judged:
                job.record(job.error(*_from_file(job, source, key, message)))
    return len(job.problems) > before


def _rendered(job: _Job, key: str) -> bool:
    """Whether ``key``'s value (for a prompt: from ``prompt`` or ``prompt_file``) was
    rendered, and from no wrong repo."""
    keys = ("prompt", "prompt_file") if key == "prompt" else (key,)
    if job.unrendered.intersection(keys):
        return False
    written = next((job.merged[k] for k in keys if k in job.merged), None)
    return not (job.wrong_repo and isinstance(written, str) and "repo" in template_names(written))


def _from_file(job: _Job, source: str, key: str, message: str) -> tuple[str, str]:
    """A prompt problem of a job whose prompt is a file is the ``prompt_file``
    key's (pointing at its line), and names the file."""
    if key != "prompt" or "prompt" in job.merged:
        return key, message
    relative = str(job.merged["prompt_file"])
    if not source.strip():
        return "prompt_file", f"prompt file {relative} is empty"
    message = message.replace("the prompt", f"the prompt from prompt file {relative}", 1)
    if message.endswith(" is empty"):  # the file is not: its templates rendered to nothing
        message += " after templating"
    return "prompt_file", message


def _trigger_runs(job: _Job, repos: list[str]) -> list[RunPlan]:
    """An automation job's runs: the repo, the job's key (the trigger key is
    derived from it when sent) and the input, templated per repo."""
    raw_input = job.merged.get("input") or {}
    requests, inputs = [], []
    for repo in repos:
        key = job.merged.get("idempotency_key")
        key = _made_key(job) if key is None else job.render(key, "idempotency_key", repo, "here")
        requests.append(StartRequest(repo=repo, prompt="", idempotency_key=key.strip()))
        inputs.append(_render_value(job, raw_input, "input", repo, "here"))
    job.check_rendered()
    requests = _per_repo_keys(job, requests)
    suffix = job.ctx.rerun_suffix or ""
    return [RunPlan(job=job.name, repo=request.repo, inputs=values,
                    request=replace(request, idempotency_key=_suffixed(
                        job, request.idempotency_key, suffix)))
            for request, values in zip(requests, inputs, strict=True)]


def _own_key(job: _Job) -> bool:
    """Whether the task file wrote the job's key (else mogrun made it)."""
    return job.merged.get("idempotency_key") is not None


def _suffixed(job: _Job, key: str, suffix: str) -> str:
    """``key + suffix``; a key mogrun made is fitted to the server's limit (a long
    job name must not make it an error the user never wrote)."""
    return key + suffix if _own_key(job) else fitted_key(key, suffix)


def _made_key(job: _Job) -> str:
    """The key of a job that names none: unique to this invocation."""
    return fitted_key(f"mogrun-{job.name}-{job.ctx.clock.nonce}")


def _per_repo_keys(job: _Job, requests: list[StartRequest]) -> list[StartRequest]:
    """A fan-out whose key is the same for every repo gets ``:repo`` appended."""
    keys = [r.idempotency_key for r in requests]
    if len(set(keys)) == len(keys):
        return requests
    empty = next((key for key in keys if not key.strip()), None)
    if empty is not None:  # the suffix makes a key per repo, not an empty key one:
        # ":acme/api" was sent by every invocation, on any day, and attached for ever
        raise job.fail("idempotency_key", f"{key_length_problem(empty)} (before the "
                       "fan-out's per-repo suffix)")
    suffixed = [replace(r, idempotency_key=_suffixed(job, r.idempotency_key, f":{r.repo}"))
                for r in requests]
    for written, request in zip(keys, suffixed, strict=True):
        if len(written.strip()) <= MAX_KEY < len(request.idempotency_key):
            raise job.fail("idempotency_key", f"the idempotency key is {len(written)} "
                           f"characters, {len(request.idempotency_key)} with the fan-out "
                           f'suffix ":{request.repo}"; the server accepts at most {MAX_KEY} '
                           "(shorten it, or make it differ per repo with {{ repo }})")
    return suffixed


def _request(job: _Job, repo: str, prompt_source: str) -> StartRequest:
    merged, reason = job.merged, "here"

    def text(key: str) -> str | None:
        value = merged.get(key)
        return None if value is None else job.render(value, key, repo, reason)

    prompt_key = "prompt" if "prompt" in merged else "prompt_file"
    key = text("idempotency_key")
    if key is None:
        key = _made_key(job)
    return StartRequest(
        repo=repo, prompt=job.render(prompt_source, prompt_key, repo, reason),
        idempotency_key=key.strip(), harness=merged.get("harness"),
        base_branch=text("base_branch"), working_branch=text("branch"),
        create_branch=bool(merged.get("create_branch", False)), root_directory=text("root"))


def _options(job: _Job, repos: list[str] | None) -> dict[str, Any]:
    """Plugin keys: strings templated (recursively), then the plugin's ``validate``.
    A problem in one is recorded and the others are still judged. ``repos`` is
    ``None`` when the job's repo is wrong: a value that uses it is not judged."""
    repo = repos[0] if repos and len(repos) == 1 else None
    reason = ("in a plugin key of a fan-out job (it has several repos)" if repos else
              "here (the job's repo is not valid)")
    options: dict[str, Any] = {}
    for key, spec in job.ctx.key_specs.items():
        if key not in job.merged:
            continue
        unset: list[tuple[str | int, ...]] = []  # where a value used an unset env name
        value = _render_value(job, job.merged[key], key, repo, reason, (), unset)
        if key in job.unrendered:
            continue
        try:
            options[key], secrets = spec.judge(value)
        except ValueError as exc:
            from mogrun.taskfile.positions import sub_path  # a wrong value: rare

            hidden = refused_secrets(spec, value)
            for sub, message in problems_of(exc):
                where = sub_path(value, sub)
                if not _of_unset(where, unset):  # those are judged once the name is set
                    job.problems.append(job.error(key, message, *where, hidden=hidden))
            continue
        except ValidatorCrash as exc:  # the plugin's fault, but this key's problem
            if not unset:
                job.problems.append(job.error(key, exc.crash,
                                              hidden=refused_secrets(spec, value)))
            continue
        except MogrunError as exc:
            # The validator's own refusal (a UsageError...): it may quote the
            # rendered value, env.* values and all: mask them.
            raise exc.evolve(message=job.masked(exc.message),
                             context=[job.masked(line) for line in exc.context]) from exc
        job.secrets |= secrets
    return options


def line_masked(where: Location, secrets: Iterable[str]) -> Location:
    """``where`` with each of ``secrets`` a plugin listed in a value masked in place
    in the line it quotes (``*`` a character: the caret still lines up), as the file
    writes it and as the line's own URL masking left it (``positions.source_line``);
    a template in it is a name, not masked (``_secret_as_written``)."""
    if where.source_line is None:
        return where
    from mogrun.masking import mask_in_place, urls_masked_in_place

    hidden = [form for secret in secrets if _secret_as_written(secret)
              for form in (secret, urls_masked_in_place(secret))]
    return where._replace(source_line=mask_in_place(where.source_line, hidden))


def refused_secrets(spec: KeySpec, value: Any) -> frozenset[str]:
    """The secrets the key's plugin lists in a value its ``validate`` refused: the
    line quoted under the problem has them masked (``location``), and so has the
    message, which may quote the value (``bad value 'hooks.example.com/T0/...'``).
    None when the plugin lists none or cannot read this value."""
    if spec.secrets is None:
        return frozenset()
    try:
        return frozenset(spec.secrets_in(value))
    except Exception:  # a value its plugin cannot read: nothing more is known
        return frozenset()


def option_problems(ctx: Context, name: str) -> list[MogrunError]:
    """What the plugins say of the keys they declared in a job that is not built
    (a problem of its core keys stops it): ``check`` lists those with the core
    problems rather than once these are fixed. Only the plugins' verdicts
    (template problems are found by building the job without its wrong keys);
    a value that uses the job's repo when that cannot be rendered, or an unset
    ``env`` name, is not judged."""
    job = _Job(ctx, name)
    raw = job.merged.get("repo")
    listed = [r for r in (raw if isinstance(raw, list) else [raw]) if isinstance(r, str)]
    repos: list[str] | None = None
    if listed and len(listed) == (len(raw) if isinstance(raw, list) else 1):
        repos = [job.render(r, "repo", None, "inside repo itself").strip() for r in listed]
        if {"repo"} & (job.unrendered | job.unset_in) or not all(repos):
            repos = None
    _options(job, repos)
    return [problem for problem in job.problems if not isinstance(problem, TemplateError)
            and isinstance(problem, TaskFileError) and problem.key in ctx.key_specs]


def _render_value(job: _Job, value: Any, key: str, repo: str | None, reason: str,
                  path: tuple[str | int, ...] = (),
                  unset: list[tuple[str | int, ...]] | None = None) -> Any:
    """``value`` with its strings rendered; the path of each that used an unset
    ``env`` name (a stand-in took its place) added to ``unset``."""
    if isinstance(value, str):
        rendered = job.rendered(value, key, repo, reason)
        if unset is not None and rendered.unset_env:
            unset.append(path)
        return rendered.text
    if isinstance(value, list):
        return [_render_value(job, v, key, repo, reason, (*path, i), unset)
                for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _render_value(job, v, key, repo, reason, (*path, k), unset)
                for k, v in value.items()}
    return value


def _of_unset(where: tuple[str | int, ...], unset: list[tuple[str | int, ...]]) -> bool:
    """Whether a plugin's problem located at ``where`` may be the stand-in's of an
    unset env name: at or inside a value that used one, or at no place at all
    while one did. A problem elsewhere (a typo in ``on`` beside a webhook from
    env) is the file's whatever the environment: ``check`` says it."""
    return any(where[:len(path)] == path for path in unset) or (not where and bool(unset))


def key_clashes(taskfile: TaskFile, results: Sequence[JobResult]) -> list[TaskFileError]:
    """Runs whose idempotency keys render the same, once per key: the server
    takes the second start for the first (it attaches to that run) or refuses
    it (IDEMPOTENCY_CONFLICT). Located at the second run's key, naming the
    first (and any others). One pass over the runs: linear in their number."""
    owners: dict[str, list[tuple[JobResult, str | None]]] = {}
    for result in results:
        for repo, key in result.run_keys:
            owners.setdefault(key, []).append((result, repo))
    errors = []
    for key, runs in owners.items():
        if len(runs) > 1:
            errors.append(_clash(taskfile, key, runs))
    return errors


def _key_at(taskfile: TaskFile, job: str) -> tuple[str, ...]:
    where = ("jobs", job) if "idempotency_key" in taskfile.jobs[job] else ("defaults",)
    return (*where, "idempotency_key")


def _clash(taskfile: TaskFile, key: str,
           runs: list[tuple[JobResult, str | None]]) -> TaskFileError:
    from mogrun.masking import mask

    def named(run: tuple[JobResult, str | None]) -> str:
        return f'job "{run[0].name}"' + (f" ({run[1]})" if run[1] else "")

    (first, _), (second, _) = runs[0], runs[1]
    shown = mask(key, first.secrets | second.secrets)  # env values in a key are secrets
    here, there = _key_at(taskfile, second.name), _key_at(taskfile, first.name)
    context = []
    if there != here:
        context.append(f"{named(runs[0])} sets it on line {taskfile.location(*there).line}.")
    if len(runs) > 2:
        from mogrun.tables import listed

        context.append(f"Also {listed([named(run) for run in runs[2:]], 5)}.")
    context.append("One key is one run: the later start attaches to the earlier one's run (or "
                   "fails with IDEMPOTENCY_CONFLICT). Make the key differ per job, e.g. "
                   '"{{ job }}-{{ date }}".')
    message = (f'{named(runs[1])}, key "idempotency_key": renders the same idempotency key as '
               f'{named(runs[0])} ("{shown}")')
    return taskfile.error(message, *here, job=second.name, context=context)


def buildable_jobs(taskfile: TaskFile, problems: Sequence[MogrunError],
                   key_specs: Mapping[str, KeySpec]) -> list[str]:
    """Jobs that can be built despite the file's ``problems``: not one with a
    problem (nor one that inherits a wrongly typed key from ``[defaults]``,
    reported there), except an unknown key or its ``needs``, which building
    never reads: check then lists the template problems of a job with a typo."""
    from mogrun.taskfile.jobnames import JOB_NAME

    failed = {problem.job for problem in problems
              if isinstance(problem, TaskFileError) and problem.job
              and not isinstance(problem, UnknownKeyError) and problem.key != "needs"}
    return [name for name, table in taskfile.jobs.items()
            if name not in failed and JOB_NAME.fullmatch(name)
            and not inherits_a_wrong_default(taskfile, table)]


def inherits_a_wrong_default(taskfile: TaskFile, table: dict[str, Any]) -> bool:
    """Whether a job of ``table`` takes a wrongly typed key from ``[defaults]``
    (reported there): such a job is not built, its own keys repaired or not."""
    from mogrun.taskfile.schema import JOB_KEYS, JOB_ONLY

    return any(key in JOB_KEYS and key not in JOB_ONLY and JOB_KEYS[key](value)
               for key, value in inherited(taskfile.defaults, table).items())


def in_file_order(errors: list[MogrunError]) -> list[MogrunError]:
    """``errors`` in file order (line, then column; those without a line first,
    else as found): ``check`` lists them so, and ``show`` and ``run`` stop at the
    first of them, the same one."""
    def place(error: MogrunError) -> tuple[int, int]:
        location = getattr(error, "location", None)
        return (0, 0) if location is None else (location.line or 0, location.column or 0)

    return sorted(errors, key=place)


def said_once(taskfile: TaskFile, problems: list[MogrunError]) -> list[MogrunError]:
    """A problem of a ``[defaults]`` key is found in every job that inherits it:
    it is said once, for the first of them, naming the others. A problem of a
    ``[vars]`` value is found in every job that uses the var: said once."""
    kept: list[MogrunError] = []
    also: dict[tuple[object, ...], tuple[int, list[str]]] = {}
    var_problems: set[tuple[str, object]] = set()
    for problem in problems:
        if isinstance(problem, VarTemplateError):  # a var's own: the same in every job
            if _identity(problem) not in var_problems:
                var_problems.add(_identity(problem))
                kept.append(problem)
            continue
        job, key = getattr(problem, "job", None), getattr(problem, "key", None)
        if not (job and key and key in taskfile.defaults and key not in taskfile.jobs[job]):
            kept.append(problem)
            continue
        same = (key, problem.message.removeprefix(f'job "{job}", '),
                getattr(problem, "location", None))
        if same in also:
            also[same][1].append(job)
            continue
        also[same] = (len(kept), [])
        kept.append(problem)
    for index, others in also.values():
        if others:
            names = ", ".join(f'"{n}"' for n in others[:-1])
            names = f'{names} and "{others[-1]}"' if names else f'"{others[-1]}"'
            plural = len(others) > 1
            line = (f"Also in job{'s' * plural} {names}, which inherit{'s' * (not plural)} "
                    "it from [defaults].")
            kept[index] = kept[index].evolve(context=[*kept[index].context, line])
    return kept


def _secret_as_written(text: str) -> bool:
    """Whether ``text``, a secret of a plugin's value, says something secret in the
    file: a template is a name (``{{ env.HOOK }}``, ``http://{{ host }}``), but not
    the literal text around it (``https://hooks.slack.com/services/{{ team }}/B0/X``:
    a URL's path, or any text of a value that is no URL)."""
    if "{{" not in text:
        return True
    from mogrun.masking import urls_masked_in_place

    if "://" in text:
        return urls_masked_in_place(text) != text
    return bool(literal_text(text).strip())
