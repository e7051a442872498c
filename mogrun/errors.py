"""The exception tree, and the exit code each kind of failure maps to.

Only the CLI turns these into output and an exit status; every other layer
raises them, translating lower-level errors at its boundary with
``raise ... from exc``::

    MogrunError                         exit 1 unless a subclass says otherwise
    ├── UsageError                      2   bad command line
    ├── TaskFileError                   2   file, line, column, job, key
    │   ├── TemplateError               2   unknown name, refused name, unset env
    │   ├── UnknownKeyError             2   a key no rule or plugin knows (a typo)
    │   └── PluginError                 2   a plugin failed to load, or a hook typo
    ├── ApiError                        HTTP error answered by the server (envelope)
    │   ├── UnauthorizedError           64  401
    │   ├── ForbiddenError              65  403
    │   ├── RequestRefusedError         1   400 / 404 / 409 / other 4xx (never retried)
    │   │   ├── NotFoundError           1   404 NOT_FOUND: the only answer that says "no such run"
    │   │   └── IdempotencyConflictError 1  409 IDEMPOTENCY_CONFLICT
    │   ├── RateLimitedError            75  429 (carries retry_after)
    │   ├── ServiceUnavailableError     69  503 (carries retry_after)
    │   └── ServerError                 69  500 / 502 / 504 and unknown 5xx
    ├── TransportError                  69  no usable answer: connection, timeout, a 2xx/5xx
    │                                       or 408 body that is not the envelope (another 4xx
    │                                       one: its status)
    │   ├── ConnectError                69  the request never reached the server
    │   └── ProtocolError               69  an answer the API would not give: a 404 that is not
    │       │                               its envelope (never retried: asked again, the same)
    │       └── UnconfirmedStartError   69  a start accepted (2xx) without its run id: the run
    │                                       may exist (never retried, never "not started")
    ├── UnansweredStartError      69 / 75  a start given up on after an attempt that may have
    │                                       reached the server: the run may exist
    ├── RepoNotFoundError               2   owner/name not on the account (lists close names)
    ├── GateError                       1   a gate or start veto refused the job
    ├── NotifyError                     1   a notifier could not deliver (reported as a warning)
    ├── NoTokenError                    64  MOGPLEX_API_KEY missing
    └── Interrupted                     130 / 143 / 129
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Self

# When several jobs end differently, the first code of this list that applies wins.
EXIT_PRECEDENCE: tuple[int, ...] = (2, 64, 65, 130, 143, 129, 69, 75, 1)


def combine_exit_codes(codes: list[int] | tuple[int, ...]) -> int:
    """The invocation's exit code from each job's, by the precedence the README's
    "Exit codes" gives; 0 when there is none."""
    present = set(codes)
    for code in EXIT_PRECEDENCE:
        if code in present:
            return code
    return max(present, default=0)


class MogrunError(Exception):
    """Root of every error mogrun handles: one line of output and an exit code.

    ``context`` holds the extra ``From: ...``-style lines shown under the message.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, context: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.context = tuple(context)

    def lines(self) -> list[str]:
        """What the CLI prints after ``Error: ``: the message, then context lines."""
        return [self.message, *self.context]

    def evolve(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``message``, ``context``, ``request``, ...).

        Errors are complete when raised and never changed afterwards: a layer
        that knows more (the secrets to mask, how many attempts were made)
        raises an evolved copy ``from`` the original instead."""
        unknown = [name for name in changes if name not in self.__dict__]
        if unknown:
            raise AttributeError(f"{type(self).__name__} has no field {unknown[0]!r}")
        clone = type(self).__new__(type(self), *self.args)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        if "context" in changes:
            clone.context = tuple(changes["context"])
        clone.args = (clone.message,)
        clone.__cause__, clone.__context__ = self.__cause__, self.__context__
        clone.__suppress_context__ = self.__suppress_context__
        return clone


class UsageError(MogrunError):
    """The command line is wrong (unknown job, bad option value)."""

    exit_code = 2


class Location(NamedTuple):
    """Where in a task file something is; line and column are 1-based.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    path: str
    line: int | None = None
    column: int | None = None
    source_line: str | None = None
    # The column the caret goes under in ``source_line`` when that is not the file's
    # line as written (a secret on it masked): ``column`` stays the file's.
    caret: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        if self.column is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"

    def caret_lines(self) -> list[str]:
        """The offending line and a caret under its column, like `just` shows;
        a long line only around the caret (``QUOTE_WIDTH`` columns)."""
        if self.source_line is None or self.line is None:
            return []
        gutter = f"{self.line} | "
        line = self.source_line.rstrip("\n")
        if self.column is None:
            return [gutter + _clipped(line, 0)[0]]
        shown, offset = _clipped(line, (self.caret or self.column) - 1)
        return [gutter + shown, " " * (len(gutter) + offset) + "^"]


QUOTE_WIDTH = 120  # terminal columns of a quoted source line, "…" marks included


def _clipped(line: str, index: int) -> tuple[str, int]:
    """``line`` cut to ``QUOTE_WIDTH`` terminal columns around ``index`` with "…"
    where it is cut, and the terminal column of ``index`` in the result (a
    wide character takes two)."""
    from mogrun.tables import cell_width

    if cell_width(line) <= QUOTE_WIDTH:
        return line, cell_width(line[:index])
    budget = QUOTE_WIDTH - 2  # room for a "…" on each side
    start, used = index, 0
    while start > 0 and used + cell_width(line[start - 1]) <= budget // 2:
        start -= 1
        used += cell_width(line[start])
    end = start
    used = 0
    while end < len(line) and used + cell_width(line[end]) <= budget:
        used += cell_width(line[end])
        end += 1
    while start > 0 and used + cell_width(line[start - 1]) <= budget:  # the end came first
        start -= 1
        used += cell_width(line[start])
    left = "…" if start > 0 else ""
    right = "…" if end < len(line) else ""
    return left + line[start:end] + right, len(left) + cell_width(line[start:index])


class TaskFileError(MogrunError):
    """The task file is malformed or invalid; caught before any run starts."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        job: str | None = None,
        key: str | None = None,
        context: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(message, context=context)
        self.location = location
        self.job = job
        self.key = key

    def lines(self) -> list[str]:
        lines = [self.message]
        if self.location is not None:
            lines.append(f"  --> {self.location}")
            lines.extend("  " + line for line in self.location.caret_lines())
        lines.extend(self.context)
        return lines


class NothingRecordedError(UsageError):
    """``rerun`` finds no run recorded to retry, of the jobs named or at all (a fresh
    CI checkout has none): GitHub's hint names ``run --rerun`` instead."""


class NotStartedError(UsageError):
    """A job (or run) named has no started run recorded: nothing to show (exit 2).
    Asked whether it passed (``logs --follow``, ``status --exit-status``), the
    answer is that it did not: those say so and exit 1 (``as_not_passed``)."""

    def as_not_passed(self) -> MogrunError:
        return MogrunError(self.message, context=self.context)


class EmptyTaskFileError(TaskFileError):
    """The task file holds nothing: no job to run, but nothing wrong to declare either
    (``schema``, ``repos`` and ``plugins`` take it as no file)."""


class NoTaskFileError(TaskFileError):
    """No task file was named and none is here or above: not the same as one that
    is there but cannot be read (a folder named ``mogplex.toml``), which ``schema``
    says."""


class TemplateError(TaskFileError):
    """A template names something unknown, refused, or unset (``unset_name``: the
    environment variable not set, for a hint that says where to set it;
    ``unset_env``: the unset env names the text's other templates used, placeholder
    by name, which ``check`` still warns of)."""

    unset_name: str | None = None
    unset_env: Mapping[str, str] = MappingProxyType({})


class UnknownKeyError(TaskFileError):
    """A key no rule or plugin knows: nothing reads it, so it does not keep
    ``check`` from judging the rest of its job."""


class PluginError(TaskFileError):
    """A plugin failed to load, or implements a hook that does not exist."""


class ValidatorCrash(PluginError):
    """A plugin's ``validate`` of a job key crashed (the plugin's fault, not the
    value's). Where the key is written, it is that key's problem (``crash``: what
    to say after its job and key), so ``check`` goes on to the others."""

    def __init__(self, plugin: str, key: str, detail: str) -> None:
        super().__init__(f'plugin "{plugin}" failed validating job key "{key}": {detail}',
                         key=key)
        self.crash = f'plugin "{plugin}" failed validating it: {detail}'


class RequestInfo(NamedTuple):
    """Which request failed, for messages (never carries the token)."""

    method: str
    url: str
    idempotency_key: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class ApiError(MogrunError):
    """The API answered with an error envelope (or an error status)."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        request: RequestInfo | None = None,
        retry_after: float | None = None,
        context: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(message, context=context)
        self.status = status
        self.code = code
        self.request = request
        self.retry_after = retry_after


class UnauthorizedError(ApiError):
    exit_code = 64


class ForbiddenError(ApiError):
    exit_code = 65


class RequestRefusedError(ApiError):
    """400, 404 or 409: the request itself is wrong; retrying cannot help."""

    exit_code = 1


class NotFoundError(RequestRefusedError):
    """The API's own 404 ``NOT_FOUND`` envelope: the run (repo, automation) does not
    exist, or is not the caller's. Nothing else says so: a 404 that is not that
    envelope (a proxy's page, a URL that is not the API's) is a ``ProtocolError``."""


class IdempotencyConflictError(RequestRefusedError):
    """The key was used before with a different request body."""


class RateLimitedError(ApiError):
    exit_code = 75


class ServiceUnavailableError(ApiError):
    exit_code = 69


class ServerError(ApiError):
    """500, 502, 504 or another 5xx: retried with backoff."""

    exit_code = 69


class TransportError(MogrunError):
    """No usable answer: connection refused/reset, timeout, or a body that is not
    the API's JSON envelope. Retried like a 5xx."""

    exit_code = 69

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        context: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(message, context=context)
        self.request = request
        self.status = status
        self.retry_after = retry_after  # a proxy's error page may say when to come back


class ConnectError(TransportError):
    """The request never reached the server (refused, unresolvable, connect
    timeout): a retried start cannot have been processed by this attempt."""


class ProtocolError(TransportError):
    """An answer came that the API would not give (a 404 page of a proxy, or of a URL
    that is not the API's; a start accepted without its run id): never taken for
    the API's word on the request, and never retried, as the same request gets
    the same answer (or, for a start, could make a second run)."""


class UnconfirmedStartError(ProtocolError):
    """The server accepted a start (2xx) but named no run: the run may exist. Never
    retried, nor recorded as a start that made no run: the next attempt must send
    the same Idempotency-Key, which the server replays with the run's id."""


class UnansweredStartError(MogrunError):
    """A start given up on (its retries spent on dropped connections, timeouts, 5xx
    or 429 answers) after an attempt that may have reached the server: the run may
    exist, so it is never recorded as a start that made no run; the next attempt
    sends the same Idempotency-Key. The exit code, message and request are those of
    the last failure (``cause``)."""

    def __init__(self, cause: MogrunError) -> None:
        super().__init__(cause.message, context=cause.context)
        self.exit_code = cause.exit_code
        self.request: RequestInfo | None = getattr(cause, "request", None)


class RepoNotFoundError(MogrunError):
    """An owner/name in the task file is not one of the account's repos."""

    exit_code = 2


class GateError(MogrunError):
    """A gate, or a plugin vetoing a start, refused the job."""

    exit_code = 1


class NotifyError(MogrunError):
    """A notifier could not reach some of its targets (the message names them
    with their URLs masked). The host reports it as a warning: the job's
    result stands."""


class NoTokenError(MogrunError):
    exit_code = 64


class Interrupted(MogrunError):
    """SIGINT (130), SIGTERM (143) or SIGHUP (129) reached mogrun."""

    def __init__(self, signum_exit: int, message: str = "interrupted") -> None:
        super().__init__(message)
        self.exit_code = signum_exit


class LeaveNow(BaseException):
    """mogrun's own way out of any code, a plugin's included (a second signal:
    ``engine.signals.ForcedExit``). Not an ``Exception``: no ``except Exception``
    stops it, and a plugin's fault is never one."""


class StartInterrupted(Interrupted):
    """A signal while a start was being retried after an attempt that may have
    reached the server: the run may exist, and the same key would find it."""


def honoured_retry_after(retry_after: float | None) -> float | None:
    """A ``Retry-After`` to wait exactly, or ``None``: one under a second (a proxy's
    ``0`` or ``0.001``; the Mogplex server never says less than 1) says no more than
    none does, and taken at its word every retry would go within one second. The one
    rule for mogrun's own pause and for a retry policy's (the bundled ``retry``)."""
    return retry_after if retry_after is not None and retry_after >= 1 else None


def is_retryable(error: BaseException) -> bool:
    """Transient failures the retry policy may retry; 400/401/403/404/409 never, nor
    an answer that is not the API's (asked again, it is the same)."""
    return isinstance(
        error, RateLimitedError | ServiceUnavailableError | ServerError | TransportError
    ) and not isinstance(error, ProtocolError)
