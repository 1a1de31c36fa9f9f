"""benchmarks/bayes_crosscheck.py: the samples it gives the model."""
from bayes_crosscheck import seed_means


def test_seed_means_in_points_seed_after_seed():
    runs = {"a": {0: {"accuracy_mean": 0.5}, 1: {"accuracy_mean": 0.75},
                  2: {"accuracy_mean": 0.25}}}
    assert seed_means(runs, "a", [1, 0]).tolist() == [75.0, 50.0]
