"""The run engine: start, follow, gate and record runs of many jobs at once."""
