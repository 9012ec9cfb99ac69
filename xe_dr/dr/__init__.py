"""The DR workflows: each builds a plan (plain data), prechecks it, then applies it step by
step through the run's journal (see xe_dr/dr/engine.py)."""
