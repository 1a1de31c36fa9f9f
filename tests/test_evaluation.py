import numpy as np
import pytest

from hngraph import svm_accuracy


def test_separable_embeddings_near_one():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(6, 1, (60, 8))])
    y = np.array([0] * 60 + [1] * 60)
    mean, std, details = svm_accuracy(x, y, seed=0, return_folds=True)
    assert mean >= 0.98
    assert len(details["fold_accuracies"]) == 10
    assert mean == pytest.approx(np.mean(details["fold_accuracies"]))
    assert std == pytest.approx(np.std(details["fold_accuracies"]))


def test_random_labels_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8))
    y = rng.integers(0, 2, 200)
    mean, _ = svm_accuracy(x, y, seed=0)
    assert 0.35 <= mean <= 0.65


def test_seeded_folds_and_string_labels():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 4))
    y = np.where(x[:, 0] > 0, "a", "b")
    assert svm_accuracy(x, y, seed=3) == svm_accuracy(x, y, seed=3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="NaN or inf"):
        svm_accuracy(np.full((20, 2), np.nan), [0, 1] * 10)
    with pytest.raises(ValueError, match="single class"):
        svm_accuracy(np.zeros((20, 2)), [0] * 20)
    with pytest.raises(ValueError, match="fewer than folds"):
        svm_accuracy(np.zeros((20, 2)), [0] * 15 + [1] * 5)


@pytest.mark.parametrize("classes,noise", [(2, 1.0), (3, 2.0), (2, 3.0)])
def test_fast_path_equals_plain_gridsearch(classes, noise):
    # The shared-distance path runs the same protocol as
    # GridSearchCV(SVC()) and gives the same folds, C and accuracies.
    rng = np.random.default_rng(classes)
    y = rng.integers(0, classes, 150)
    x = rng.normal(size=(150, 6)) * noise + y[:, None]
    fast = svm_accuracy(x, y, seed=5, return_folds=True, method="fast")
    plain = svm_accuracy(x, y, seed=5, return_folds=True, method="sklearn")
    assert fast[2]["fold_accuracies"] == plain[2]["fold_accuracies"]
    assert fast[2]["best_C"] == plain[2]["best_C"]
    assert fast[:2] == plain[:2]


def test_parallel_folds_give_the_same_result():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 100)
    x = rng.normal(size=(100, 4)) + y[:, None]
    assert svm_accuracy(x, y, n_jobs=2) == svm_accuracy(x, y, n_jobs=1)


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        svm_accuracy(np.zeros((20, 2)), [0, 1] * 10, method="libsvm")


def test_collapsed_embeddings_agree_on_both_paths():
    # Constant embeddings (a collapsed encoder): every SVC predicts one
    # class, and both paths must say so alike instead of dividing by zero.
    x = np.ones((40, 3))
    y = np.array([0, 1] * 20)
    fast = svm_accuracy(x, y, return_folds=True)
    plain = svm_accuracy(x, y, return_folds=True, method="sklearn")
    assert fast == plain
    assert fast[0] == pytest.approx(0.5)
