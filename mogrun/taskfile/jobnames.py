"""What a job may be named: one rule, said in the same words by ``check``, ``add``,
the hint at a TOML header TOML itself refuses, and ``mogrun schema``. A leaf
module: the syntax hints import it, and the schema's modules import those."""

from __future__ import annotations

import re

JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# The words for JOB_NAME (é is a letter, so "ASCII").
JOB_NAME_RULE = 'use ASCII letters, digits, "-", "_" and "." (not starting with "-" or ".")'
