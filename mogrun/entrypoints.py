"""Entry points of installed distributions, read without ``importlib.metadata``.

``importlib.metadata`` costs ~20 ms of imports (email, zipfile, csv...) before
it reads a single file; ``check``, ``show`` and ``run`` need only the
``entry_points.txt`` of each ``*.dist-info`` / ``*.egg-info`` on ``sys.path``.
This reads exactly those, in ``sys.path`` order, the first distribution of a
name winning as with ``importlib.metadata``. Stdlib only, nothing imported
at module level but ``os``.
"""

import os
from typing import Any, NamedTuple


class EntryPoint(NamedTuple):
    """``name = module:attr`` of one group, loadable like importlib's."""

    name: str
    value: str
    group: str
    dist: str = ""  # the installed distribution that declares it, as pip names it

    def declared(self) -> str:
        """Where it comes from, for a message: ``name = value`` and its distribution."""
        of = f" of the installed distribution {self.dist}" if self.dist else ""
        return f"entry point {self.name} = {self.value}{of}"

    def load(self) -> Any:
        import importlib

        module_name, _, attrs = self.value.partition(":")
        target: Any = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.split("[")[0].strip().split(".")):
            target = getattr(target, attr)
        return target


def entry_points(group: str, path: list[str] | None = None) -> list[EntryPoint]:
    """Every entry point of ``group`` of the distributions found on ``path``
    (default ``sys.path``), each distribution once."""
    import sys

    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path if path is None else path:
        for meta in _metadata_dirs(folder or "."):
            project = os.path.basename(meta).rpartition(".")[0].split("-")[0]
            dist = _normalized(project)
            if dist in seen:
                continue
            seen.add(dist)
            found += [ep._replace(dist=project)
                      for ep in _read(os.path.join(meta, "entry_points.txt"), group)]
    return found


def _metadata_dirs(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries
                           if e.name.endswith((".dist-info", ".egg-info")) and e.is_dir())
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names]


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _read(file: str, group: str) -> list[EntryPoint]:
    """The ``[group]`` section of an ``entry_points.txt`` (an INI file)."""
    try:
        with open(file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    result, section = [], None
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            result.append(EntryPoint(name.strip(), value.strip(), group))
    return result
