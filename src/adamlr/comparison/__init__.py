"""``adamlr compare``: train Adam from the same initial weights under several step-size arms.

Modules: :mod:`api` (``adamlr.compare``, the function the command calls), :mod:`setup`
(options, YAML and presets merged and validated), :mod:`schedules` (step sizes as pure
functions), :mod:`arms` (one small object per arm), :mod:`training` (one run, with the
paper's per-epoch metrics), :mod:`runner` (arms × seeds, resumable), :mod:`store` (the
files, or none), :mod:`summary`, :mod:`subset` (``--quick``), :mod:`plots` and :mod:`presets`.
"""
