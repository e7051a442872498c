"""Writing a user's file whole or not at all: a full disk, a crash or Ctrl-C in
the middle of a write must leave the file as it was (or absent), never half
of it — a truncated ``mogplex.toml`` loses the jobs people wrote by hand."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def editing(path: Path, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """``with editing(path):`` read, change and write ``path`` while every other
    mogrun editing a file of that directory waits: ten ``mogrun add`` at once
    each read the file, then each wrote it whole with only its own job added, and
    all said "Added" while most jobs were lost. An advisory lock on the directory
    (the file itself is replaced by each write); none where ``fcntl`` is missing.
    ``waiting``: called once when another holds the lock, before this one waits
    for it (a wait is never silent: a second ``add`` said nothing until Ctrl-C)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = None
    with contextlib.suppress(OSError):  # the write says what is wrong with the folder
        fd = os.open(os.path.dirname(os.path.realpath(path)) or ".", os.O_RDONLY)
    try:
        if fd is not None:
            busy = False
            with contextlib.suppress(OSError):  # a file system without locks (some NFS)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    busy = True
            if busy:
                if waiting is not None:  # said outside: a failure to say it (a closed
                    waiting()  # stderr) is no file system without locks, to go on without
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # and with it the lock


class ChangedMeanwhile(Exception):
    """The file is no longer what the caller read: written to by another hand."""


def write_atomically(path: Path, data: bytes, *, create: bool = False,
                     unchanged: bytes | None = None) -> None:
    """Put ``data`` at ``path`` in one step; ``OSError`` when it cannot be done,
    with nothing changed and nothing left behind.

    ``create`` refuses a path that exists (``FileExistsError``) and removes its own
    partial file on failure. Otherwise the data goes to a temporary file beside
    the target, flushed to disk, then renamed over it: the target keeps its mode
    and, where this process may give it, its owner and group (``sudo mogrun add``
    left a file its user could no longer edit), a symlink keeps pointing at it,
    and a read-only file stays unwritten (as an editor would refuse it). A file
    that does not exist yet is written the same way, with the mode any new file
    gets (from the umask; without touching the process's umask, which other
    threads' files depend on).

    ``unchanged``: the bytes the caller read and changed; the file must still hold
    them when the new one takes its place (else ``ChangedMeanwhile``, nothing
    written): an editor that saved meanwhile, or a script appending to it, would
    lose its change to a file written from the older text."""
    if create:
        _create(path, data)
        return
    target = Path(os.path.realpath(path))
    try:
        was: os.stat_result | None = target.stat()
    except FileNotFoundError:
        was = None  # a new file appears whole too (a report CI uploads)
    else:
        if not os.access(target, os.W_OK):
            code = errno.EROFS if _read_only_mount(target) else errno.EACCES
            raise PermissionError(code, os.strerror(code), str(path))
    try:
        fd, tmp = _temporary_beside(target)
    except PermissionError as exc:  # the file may be writable: its folder is not
        raise PermissionError(exc.errno, f"{exc.strerror} to create a file in its folder "
                              f"{target.parent} (a file is written whole beside it, then "
                              "renamed over it)", str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if was is not None:
            os.chmod(tmp, stat.S_IMODE(was.st_mode))
            _keep_owner(tmp, was)
        if unchanged is not None and _now_in(target) != unchanged:
            raise ChangedMeanwhile(str(path))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _now_in(target: Path) -> bytes | None:
    """What ``target`` holds now (``None``: nothing there any more)."""
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None


def _read_only_mount(target: Path) -> bool:
    """Whether ``target`` is on a file system mounted read-only (no write is refused
    for its permissions there: "Permission denied" sent its user to chmod)."""
    try:
        return bool(os.statvfs(target).f_flag & getattr(os, "ST_RDONLY", 0))
    except OSError:
        return False


def _keep_owner(tmp: Path, was: os.stat_result) -> None:
    """The replaced file's owner and group on its replacement, as far as this
    process may set them (root: both; a user: a group of theirs; else as made)."""
    made = os.stat(tmp)
    if (made.st_uid, made.st_gid) == (was.st_uid, was.st_gid) or not hasattr(os, "chown"):
        return
    for uid, gid in ((was.st_uid, was.st_gid), (-1, was.st_gid)):
        try:
            os.chown(tmp, uid, gid)
        except OSError:
            continue
        return


def _temporary_beside(target: Path) -> tuple[int, Path]:
    """A new file under a temporary name beside ``target``, open for writing, made as
    any new file is (mode 0666 less the umask, which ``open`` applies without the
    process's umask being touched)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # another writer's name: draw again
            continue


def _create(path: Path, data: bytes) -> None:
    with path.open("xb") as handle:  # "x": a file that appeared meanwhile is not overwritten
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise

