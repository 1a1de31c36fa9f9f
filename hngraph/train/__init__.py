"""The training loop and its callbacks (:mod:`~hngraph.train.loop`).
Above :mod:`hngraph.eval`, whose SVM evaluation a callback runs."""
