"""benchmarks/bayes_crosscheck.py: the fold accuracies it gives the model,
seed after seed and split after split."""
from bayes_crosscheck import fold_matrix


def test_fold_matrix_keeps_the_first_splits_of_every_seed():
    runs = {"a": {s: {"config": {"folds": 2}, "repeats": 3,
                      "fold_accuracies": [s + 0.1 * i for i in range(6)]}
                  for s in (0, 1)}}
    # 2 splits of 2 folds per seed, in points
    assert fold_matrix(runs, "a", [0, 1], 2).round(6).tolist() == [
        0.0, 10.0, 20.0, 30.0, 100.0, 110.0, 120.0, 130.0]
