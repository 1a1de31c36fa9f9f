"""Runs and grids of runs: one run in stages (:mod:`~hngraph.runs.experiment`),
the grid (:mod:`~hngraph.runs.grid`), its executors
(:mod:`~hngraph.runs.executors`), its paired report
(:mod:`~hngraph.runs.report`) and the statistics behind it
(:mod:`~hngraph.runs.comparison`). The top layer below the command line."""
