"""The task file: discovery, parsing, validation, templates, the job graph."""
