"""Bundled plugins, shipped as `mogrun_plugins`; they use only the public hooks."""
