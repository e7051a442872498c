"""The project's ``.mogrun`` folder: mogrun's own state beside the task file
(the run history, the ids of repos seen, the events of ``--local`` runs).

mogrun writes there through no symlink. A ``.mogrun``, or a file in it,
committed to the repository as a link (a pull request can commit one) would
have an ordinary ``mogrun run`` in CI create or overwrite whatever the link
names, anywhere the runner's user may write. Such a link is refused where the
state is opened, with the reason in words (``LinkedState``)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

STATE_FOLDER = ".mogrun"


class LinkedState(OSError):
    """A state file, or the folder holding it, is a symlink."""


def refuse_links(path: Path, why: str = "mogrun writes its state through no link: remove it"
                 ) -> None:
    """``LinkedState`` when ``path`` or its folder is a symlink, saying ``why``;
    ``path`` may not exist yet (it is about to be made). Also for a file of the
    project's beside the state (``init``'s ``.gitignore``): the same link, the same
    write anywhere."""
    for each, named in ((path.parent, f"its folder {path.parent}"), (path, "it")):
        if os.path.islink(each):
            try:
                target = os.readlink(each)
            except OSError:
                target = "?"
            raise LinkedState(errno.ELOOP, f"{named} is a symlink (to {target}); {why}",
                              str(each))
