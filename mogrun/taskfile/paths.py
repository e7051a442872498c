"""Paths the task file names: each stays inside the task file's folder, and a
prompt file is read one way (a job's prompt, and the names its templates use
for ``--set`` and the ``env.*`` secrets to mask)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from mogrun.tomltext import toml_repr

if TYPE_CHECKING:
    from mogrun.taskfile.parse import TaskFile


def prompt_file_problem(project_dir: Path, relative: str) -> str | None:
    """Why a prompt file cannot be used: outside the project, missing, or not a
    regular file (a pipe would block whoever reads it)."""
    problem = path_problem(project_dir, relative) or _private_problem(project_dir, relative)
    if problem:
        return problem
    from mogrun.taskfile.discovery import file_problem

    problem = file_problem(project_dir / relative)
    if problem:
        hint = _meant(project_dir, relative)
        return f"prompt file {shown_path(relative)} {problem} (relative to {project_dir}){hint}"
    return None


def _meant(project_dir: Path, relative: str) -> str:
    """``; did you mean ...?`` for a prompt file that is there once its blanks are
    off, its backslashes are slashes or its names are in the case the folder
    spells them; else nothing."""
    meant = relative.replace("\\", "/").strip()
    found = meant if _usable(project_dir, meant) else _in_the_folder_s_case(project_dir, meant)
    if found is None or found == relative:
        return ""
    why = [_what_differs(relative)] if meant != relative else []
    if found != meant:
        why.append("the folder spells its names in another case: Linux, as on a CI runner, "
                   "tells the two apart; macOS and Windows do not")
    return f"; did you mean {toml_repr(found)}? ({'; '.join(why)})"


def _usable(project_dir: Path, relative: str) -> bool:
    """Whether ``relative`` names a prompt file that is there, inside the project."""
    from mogrun.taskfile.discovery import file_problem

    return file_problem(project_dir / relative) is None and \
        path_problem(project_dir, relative) is None


def _in_the_folder_s_case(project_dir: Path, relative: str) -> str | None:
    """``relative`` with each name as its folder spells it where the two differ in
    case alone (``prompts/fix.md`` for a ``Prompts/Fix.md`` written on a disk that
    takes one for the other), if that names a file; else ``None``."""
    folder, names = project_dir, []
    for part in Path(relative).parts:
        try:
            alike = sorted(p.name for p in folder.iterdir() if p.name.casefold() == part.casefold())
        except OSError:  # no such folder, or one that cannot be listed
            return None
        if not alike:
            return None
        names.append(part if part in alike else alike[0])
        folder = folder / names[-1]
    found = "/".join(names)
    return found if _usable(project_dir, found) else None


def shown_path(relative: str) -> str:
    """A path of the task file as a message names it: as written, or quoted where
    that would hide what it holds (a blank at either end, a control character)."""
    return relative if relative == relative.strip() and relative.isprintable() \
        else toml_repr(relative)


def _what_differs(relative: str) -> str:
    if relative != relative.strip():
        return "the same without the blanks around it"
    return "a task file's paths use / between folders, on every system"


# Folders inside the project that are not its files: git's own data (a checkout
# keeps its credentials in .git/config: actions/checkout's token, by default) and
# mogrun's state. A prompt is sent to the API, shown by ``show`` and kept in history.
_PRIVATE = (".git", ".mogrun")


def _private_problem(project_dir: Path, relative: str) -> str | None:
    """A prompt file in ``.git`` or ``.mogrun``, as written or where a link leads."""
    from mogrun.taskfile.discovery import resolved

    try:
        inside = resolved(project_dir / relative).relative_to(resolved(project_dir)).parts
    except (OSError, ValueError):  # said by the checks of the path and the file
        inside = ()
    for parts, where in ((Path(relative).parts, "is inside"), (inside, "leads into")):
        folder = next((p for p in parts[:-1] if p.casefold() in _PRIVATE), None)
        if folder is not None:
            what = ("git's own data, not the project's files (a checkout keeps its "
                    "credentials there)" if folder.casefold() == ".git" else
                    "mogrun's state, not the project's files")
            return f"prompt file {toml_repr(relative)} {where} {folder}, which holds {what}"
    return None


class PromptFileError(ValueError):
    """A prompt file that cannot be read; its message says why, for ``check``."""


def read_prompt_file(project_dir: Path, relative: str) -> str:
    """The one way a prompt file is read: checked first (``prompt_file_problem``),
    then decoded as the task file is (``parse.utf8_text``), its lines ending in \\n."""
    problem = prompt_file_problem(project_dir, relative)
    if problem:
        raise PromptFileError(problem)
    from mogrun.taskfile.parse import NotUtf8, utf8_text

    try:
        text = utf8_text((project_dir / relative).read_bytes())
    except OSError as exc:
        raise PromptFileError(f"cannot read prompt file {shown_path(relative)}: "
                              f"{exc.strerror or exc}") from exc
    except NotUtf8 as exc:
        raise PromptFileError(f"prompt file {shown_path(relative)} {exc}") from exc
    # Lines end in \n whatever the editor wrote (as text mode reads them).
    return text.replace("\r\n", "\n").replace("\r", "\n")


def prompt_file_texts(taskfile: TaskFile) -> list[str]:
    """The text of every prompt file ``[defaults]`` and the jobs name that can be read:
    the names their templates use (``--set``, the ``env.*`` secrets to mask). One that
    cannot be read is for ``check`` to report, not for these to fail on."""
    texts = []
    for table in (taskfile.defaults, *taskfile.jobs.values()):
        relative = table.get("prompt_file") if isinstance(table, dict) else None
        if isinstance(relative, str):
            with contextlib.suppress(PromptFileError):
                texts.append(read_prompt_file(taskfile.project_dir, relative))
    return texts


def path_problem(project_dir: Path, relative: str) -> str | None:
    """Relative paths in the task file must stay inside its directory."""
    if "\0" in relative:  # no system takes one in a file name
        return f"{toml_repr(relative)} may not contain a NUL character"
    path = Path(relative)
    if not relative or path.is_absolute() or relative.startswith(("/", "\\")):
        return f"{toml_repr(relative)} must be a path relative to the task file's directory"
    if ".." in path.parts:
        return f'{toml_repr(relative)} may not contain ".." (paths stay inside {project_dir})'
    if relative.endswith("/"):  # ``Path`` drops it: the file was read all the same
        return f"{toml_repr(relative)} ends with a /, which names a folder: leave out the /"
    from mogrun.taskfile.discovery import resolved

    try:
        resolved(project_dir / path).relative_to(resolved(project_dir))
    except ValueError:
        return f"{toml_repr(relative)} leads outside {project_dir}"
    except OSError:  # a symlink loop: no file, said where it is read (``file_problem``)
        return None
    return None
