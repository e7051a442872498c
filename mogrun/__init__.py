"""mogrun: a declarative, Makefile-style runner for Mogplex cloud agent runs.

Kept import-free on purpose: `mogrun list` and `mogrun --help` must start fast.
"""

__version__ = "0.2.0.dev0"
