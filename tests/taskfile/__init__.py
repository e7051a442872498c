"""Tests of the task file core and its commands (issue 2)."""
