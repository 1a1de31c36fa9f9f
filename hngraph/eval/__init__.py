"""Frozen embeddings measured and used: the SVM protocol and model
selection (:mod:`~hngraph.eval.scoring`), and embeddings of users' graphs
(:mod:`~hngraph.eval.embedding`). Above :mod:`hngraph.nn`."""
