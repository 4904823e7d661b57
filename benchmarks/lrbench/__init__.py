"""The recommendation benchmark's harness: setups, training runs, the grid search, rules, baselines, scores.

Run it with ``python benchmarks/recommend.py``; it is not part of the installed package.
"""
