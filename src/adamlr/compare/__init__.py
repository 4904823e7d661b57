"""``adamlr compare``: train Adam from the same initial weights under several step-size arms.

Modules: :mod:`schedules` (step sizes as pure functions), :mod:`arms` (one small object
per arm), :mod:`training` (one run, with the paper's per-epoch metrics), :mod:`runner`
(arms × seeds, resumable output), :mod:`plots` and :mod:`presets`.
"""
