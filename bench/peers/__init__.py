"""The apps ``make bench`` measures ours against (see bench/run.py)."""
