"""What tells one project's automation trigger keys from another's.

The server's trigger keys are global, and a key mogrun derives from the
automation, the repo, the job and the user's key is the same in two task files
of one account that share those: the second project's job attached to the
first's run. The project is told apart by what stays the same wherever it is
checked out (every CI runner, every laptop), so a CI retry still sends the
same key: the git remote ``origin`` of the repository holding the task file,
without its scheme, credentials or ``.git``, and the task file's path inside
that repository. A task file outside git, or in a repository without an
``origin``, has no such identity: its keys are as before.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

# scp-like ``git@github.com:owner/repo.git``: a host, a colon, no "//".
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?!//)(?P<path>.+)$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?(?P<host>[^/]+)(?P<path>/.*)?$")


def project_identity(project_dir: str | None, task_file: str | None) -> str:
    """``github.com/owner/repo:ops/mogplex.toml`` for a task file in a clone of
    that repository, else ``""``. Asks git once (two quick commands); a git that
    is missing, slow or failing is no identity, never an error."""
    if not project_dir or not task_file:
        return ""
    remote = _git(project_dir, "config", "--get", "remote.origin.url")
    top = _git(project_dir, "rev-parse", "--show-toplevel")
    if not remote or not top:
        return ""
    try:
        inside = Path(task_file).resolve().relative_to(Path(top).resolve())
    except ValueError:
        return ""
    return f"{normalised_remote(remote)}:{PurePosixPath(*inside.parts)}"


def normalised_remote(url: str) -> str:
    """``host/owner/repo`` of a git remote however it is written (https with or
    without credentials, ssh, scp-like, with or without ``.git``, in any case, as
    GitHub takes names): one clone over SSH and another over HTTPS are one
    project; credentials never get in."""
    url = url.strip()
    match = _URL.match(url) or _SCP_LIKE.match(url)
    if match is None:  # a local path, say: as written
        return url.rstrip("/").removesuffix(".git")
    host = match["host"].rsplit(":", 1)[0] if "://" in url else match["host"]  # no port
    path = (match["path"] or "").strip("/").removesuffix(".git")
    return f"{host}/{path}".lower()


def _git(cwd: str, *args: str) -> str:
    try:
        # surrogateescape: a folder named in latin-1 is the bytes git printed (strict
        # decoding raised UnicodeDecodeError, an internal error, for such a clone).
        done = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True,
                              errors="surrogateescape", timeout=5, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
