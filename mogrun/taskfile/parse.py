"""Reading a task file into a ``TaskFile``: bytes -> text -> TOML -> the few
structural checks every command needs (``list`` included).

Strict validation of keys, types and templates lives in ``schema`` and
``validation``; this module stays cheap (tomllib only) so ``mogrun list``
starts fast, and finds positions only when it reports an error.
"""

import tomllib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

from mogrun.errors import EmptyTaskFileError, Location, TaskFileError

SECTIONS = ("mogplex", "defaults", "vars", "jobs")
# What a job does, one choice: a prompt (inline or from a file) or an automation
# to trigger. A key set in a job replaces the same key of [defaults], and these
# are one: a job that makes the choice itself takes none of them from [defaults].
WHAT_TO_DO = ("prompt", "prompt_file", "automation")
MAX_DEPTH = 50  # far beyond any real task file, well within Python's recursion limit


class TaskFile(NamedTuple):
    """A parsed task file. ``jobs`` maps each job name to its raw table.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    path: Path
    text: str
    settings: dict[str, Any]  # [mogplex]
    defaults: dict[str, Any]
    vars: dict[str, Any]
    jobs: dict[str, dict[str, Any]]
    data: dict[str, Any]  # the whole document

    @property
    def project_dir(self) -> Path:
        return self.path.parent

    @property
    def url(self) -> str | None:
        url = self.settings.get("url")
        return url if isinstance(url, str) else None

    @property
    def plugins(self) -> list[str]:
        return [spec for _, spec in self.plugin_entries]

    @property
    def plugin_entries(self) -> list[tuple[int, str]]:
        """Each plugin of ``[mogplex].plugins`` with its index in the array, which
        locates a problem of that plugin at its own string."""
        plugins = self.settings.get("plugins", [])
        if not isinstance(plugins, list):
            return []
        return [(index, spec) for index, spec in enumerate(plugins) if isinstance(spec, str)]

    @property
    def job_names(self) -> list[str]:
        return list(self.jobs)

    @property
    def unread(self) -> bool:
        """Whether this stands in for a file that does not parse (``stand_in``): its
        jobs are not known. (A file read has text: an empty one is refused.)"""
        return not self.text

    def job_keys(self, name: str) -> dict[str, Any]:
        """Job ``name``'s keys with those it takes from ``[defaults]``."""
        table = self.jobs[name]
        return {**inherited(self.defaults, table), **table}

    def spelled(self) -> AbstractContextManager[None]:
        """Within it, a message quotes a number or date of this file as the file
        wrote it (``mogrun.tomltext.toml_repr``)."""
        from mogrun.tomltext import spelled_by

        return spelled_by(_spelling(self.text, self.data))

    def location(self, *keys: str | int) -> Location:
        """Where ``keys`` (e.g. ``"jobs", "x", "timeout"``; an ``int`` is an array
        index: ``"jobs", "x", "needs", 1``) is written in the file."""
        from mogrun.taskfile.positions import locate

        return locate(str(self.path), self.text, keys)

    def error(self, message: str, *keys: str | int, job: str | None = None,
              context: tuple[str, ...] | list[str] = (), key: str | None = None) -> TaskFileError:
        """A ``TaskFileError`` located at ``keys``; ``key``: the key it is about when
        ``keys`` goes deeper (``gates``, located at ``gates.max_duration``)."""
        return TaskFileError(message, location=self.location(*keys), job=job,
                             key=key or _key_of(keys), context=context)


def _spelling(text: str, data: Mapping[str, Any]) -> Callable[[object], str | None]:
    """What ``text`` wrote for a number or date of ``data``, by identity: the file
    is scanned (and the scanner imported) on the first question, an error's
    message, never for a valid file."""
    written: dict[int, tuple[object, str]] | None = None

    def spelling(value: object) -> str | None:
        nonlocal written
        if written is None:
            from mogrun.taskfile.positions import written_values

            written = written_values(text, data)
        hit = written.get(id(value))
        return hit[1] if hit is not None and hit[0] is value else None

    return spelling


def _key_of(keys: tuple[str | int, ...]) -> str | None:
    """The key a problem located at ``keys`` is about: the last one that is not an
    array index, except a job's name (a problem of the job table itself is about
    no key, and a job may be named like one: ``[jobs.needs]``)."""
    names = [key for key in keys if isinstance(key, str)]
    if not names or (len(names) == 2 and names[0] == "jobs"):
        return None
    return names[-1]


def load_task_file(path: Path) -> TaskFile:
    """Read and parse ``path``; ``TaskFileError`` for anything that is not a task file."""
    return parse_task_file(path, _read_text(path))


def parse_task_file(path: Path, text: str) -> TaskFile:
    """Parse ``text`` as the task file at ``path`` (``add`` judges its result
    before writing it)."""
    if is_blank(text):
        # Not `mogrun init`: it writes no file over one that is there, even empty.
        raise EmptyTaskFileError(f"task file {path} is empty", context=[
            "Add a job to it with `mogrun add JOB --repo R --prompt P`, or write one "
            "such as [jobs.hello]."])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from mogrun.taskfile.syntax import syntax_error

        raise syntax_error(path, text, exc) from exc
    except RecursionError as exc:  # tomllib recurses once per nesting level
        raise _too_deep(path, text) from exc
    except ValueError as exc:  # int() of a decimal of over 4,300 digits (Python's limit)
        raise _out_of_range(path, _long_number(path, text)) from exc
    depth, huge = _walk(data)
    if depth > MAX_DEPTH:  # every later walk of the data recurses too
        raise _too_deep(path, text)
    if huge:  # a hex one tomllib reads: str() of it would fail later
        from mogrun.taskfile.positions import locate

        raise _out_of_range(path, locate(str(path), text, _keys_of_huge(data)))
    return _build(path, text, data)


def is_blank(text: str) -> bool:
    """Whether ``text`` holds nothing but what TOML counts as blank: spaces, tabs
    and line breaks (LF, CRLF). Not ``str.strip``'s blanks: a no-break space, a
    form feed or a lone CR is no TOML, and a file of one is not empty but wrong
    (said, located, by the parser), so that ``add`` is not sent to fix it."""
    import re

    return re.fullmatch(r"(?:[ \t\n]|\r\n)*", text) is not None


def _too_deep(path: Path, text: str) -> TaskFileError:
    """Values nested past ``MAX_DEPTH``, located where the brackets go deepest (the
    file's first such place): the message said no line."""
    from mogrun.taskfile.positions import source_line, source_text

    line, column = source_text(text).point(_deepest_bracket(text))
    try:  # the line is shown with its secrets masked, found by a scan that recurses too
        shown = source_line(text, line)
    except RecursionError:
        shown = None
    return TaskFileError(f"task file {path} nests values more than {MAX_DEPTH} levels deep",
                         location=Location(str(path), line, column, shown))


# What a nesting count reads past: strings (each kind, escapes and all), comments.
_BRACKETS = r"""'''.*?'''|""\"(?:\\.|.)*?""\"|'[^'\n]*'|"(?:\\.|[^"\\\n])*"|#[^\n]*|[\[\]{}]"""


def _deepest_bracket(text: str) -> int:
    """Where the ``[`` or ``{`` that opens the deepest nesting of values is (only a
    file tomllib read, or gave up on for its depth, is asked: its strings close)."""
    import re

    depth = deepest = at = 0
    for found in re.finditer(_BRACKETS, text, re.DOTALL):
        char = found.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, found.start()
        elif char in "]}":
            depth = max(0, depth - 1)
    return at


# TOML's integers are 64-bit, but tomllib reads any: one too long for Python to
# print (over 4,300 digits, ``sys.get_int_max_str_digits``) is refused here, since
# every later message, listing and request would fail on it; a shorter one outside
# the range is judged by its key's own rule ("at most 1,000,000").
INT_RANGE = (-(2**63), 2**63 - 1)
UNPRINTABLE_BITS = 14_000  # 10**4300 is about 2**14284
_LONG_NUMBER = r"(?:^|[=\[,{])[ \t]*([+-]?[0-9][0-9_]{4299,})"


def _out_of_range(path: Path, location: Location) -> TaskFileError:
    return TaskFileError(
        f"task file {path} holds an integer of thousands of digits; TOML's integers are "
        f"64-bit ({INT_RANGE[0]} to {INT_RANGE[1]})", location=location)


def _long_number(path: Path, text: str) -> Location:
    """Where the first value of 4,300 digits or more is written (the file, when none
    is found where a value starts)."""
    import re

    from mogrun.taskfile.positions import source_line, source_text

    found = re.search(_LONG_NUMBER, text, re.MULTILINE)
    if found is None:
        return Location(str(path))
    line, column = source_text(text).point(found.start(1))
    return Location(str(path), line, column, source_line(text, line))


def stand_in(path: Path) -> TaskFile:
    """A task file with nothing in it, at ``path``: what the commands that read the
    history beside a file (``status``, ``cancel``, ``history``) go on with while
    that file does not parse (being edited)."""
    return _tables(path, "", {})


def _walk(data: Any) -> tuple[int, bool]:
    """How deeply tables and arrays nest in ``data``, and whether an integer in it is
    too long to print, found without recursion."""
    deepest, huge, stack = 0, False, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
        elif _unprintable(value):
            huge = True
    return deepest, huge


def _unprintable(value: Any) -> bool:
    """An integer too long for ``str()`` (not a bool, which is an int too)."""
    return type(value) is int and value.bit_length() > UNPRINTABLE_BITS


def _keys_of_huge(data: Any) -> tuple[str | int, ...]:
    """The keys of an integer too long to print in ``data`` (there is one)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, keys = stack.pop()
        if isinstance(value, dict):
            stack += [(v, (*keys, k)) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, (*keys, i)) for i, v in enumerate(value)]
        elif _unprintable(value):
            return keys
    return ()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TaskFileError(f"cannot read task file {path}: {exc.strerror or exc}") from exc
    try:
        return utf8_text(raw)
    except NotUtf8 as exc:
        shown = None
        if exc.column is not None:  # the line as an editor shows it, the byte as U+FFFD
            from mogrun.taskfile.positions import source_line

            text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
            shown = source_line(text, exc.line)
        raise TaskFileError(f"task file {exc}", location=Location(
            str(path), exc.line, exc.column, shown)) from exc


class NotUtf8(ValueError):
    """Bytes that are not UTF-8 text: ``str()`` says why, after the file's name;
    ``line`` and ``column`` (when known) where the first such byte is."""

    def __init__(self, why: str, line: int, column: int | None = None) -> None:
        super().__init__(why)
        self.line = line
        self.column = column


def utf8_text(raw: bytes) -> str:
    """The one way the files a task file is made of (it, its prompt files) are
    decoded: UTF-8, a byte order mark dropped (Windows editors write one, and it
    is no part of the text). ``NotUtf8`` says the first byte that is not, or that
    the file is UTF-16 (Notepad's "Unicode", PowerShell 5's ``>``)."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            width = "32" if raw.startswith(b"\xff\xfe\x00\x00") else "16"
            raise NotUtf8(f"is UTF-{width} text, not UTF-8 (it starts with a UTF-{width} "
                          "byte order mark): save it as UTF-8", 1) from exc
        if 0 <= raw.find(b"\x00") < exc.start:  # UTF-16 of a letter beyond ASCII (é)
            raise _nul_byte(raw) from exc
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1  # of the line: all UTF-8 up to the byte
        before = raw[start:exc.start].decode("utf-8").removeprefix("\ufeff" if start == 0 else "")
        raise NotUtf8(f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): save "
                      "it as UTF-8", line, len(before) + 1) from exc
    if "\x00" in text:  # UTF-16 of ASCII without a byte order mark decodes
        raise _nul_byte(raw)
    return text


def _nul_byte(raw: bytes) -> NotUtf8:
    """Bytes with a NUL among them, as UTF-16 without a byte order mark writes one
    beside each ASCII letter (its first, where the file's text would start)."""
    line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
    return NotUtf8(f"is not UTF-8 text (a NUL byte on line {line}: UTF-16 without a byte "
                   "order mark?): save it as UTF-8", line)


def _build(path: Path, text: str, data: dict[str, Any]) -> TaskFile:
    draft = _tables(path, text, data)
    tables = {}
    for name in SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise draft.error(f"[{name}] must be a table, not {type_name(value)}", name)
        tables[name] = value
    for job, table in tables["jobs"].items():
        if not isinstance(table, dict):
            from mogrun.taskfile.positions import quote_key

            raise draft.error(f'job "{job}" must be a table, not {type_name(table)}', "jobs", job,
                              context=[f'Write it as [jobs.{quote_key(job)}] with repo and '
                                       'prompt keys.'])
    return TaskFile(path=path, text=text, settings=tables["mogplex"],
                    defaults=tables["defaults"], vars=tables["vars"], jobs=tables["jobs"],
                    data=data)


def _tables(path: Path, text: str, data: dict[str, Any]) -> TaskFile:
    """A task file with its sections not yet read (each its own empty table)."""
    return TaskFile(path=path, text=text, settings={}, defaults={}, vars={}, jobs={}, data=data)


def type_name(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def inherited(defaults: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``defaults`` a job of ``table`` takes: those it does not set
    itself, and none of ``WHAT_TO_DO`` if it sets one of them."""
    chooses = not table.keys().isdisjoint(WHAT_TO_DO)
    return {key: value for key, value in defaults.items()
            if key not in table and not (chooses and key in WHAT_TO_DO)}
