import hashlib

import numpy as np
import pytest

from hngraph import svm_accuracy
from hngraph.eval.scoring import C_GRID, select_embeddings, select_results


def test_separable_embeddings_near_one():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(6, 1, (60, 8))])
    y = np.array([0] * 60 + [1] * 60)
    result = svm_accuracy(x, y, seed=0)
    assert result.accuracy_mean >= 0.98
    assert len(result.fold_accuracies) == 10 == len(result.best_C)
    assert result.accuracy_mean == pytest.approx(
        np.mean(result.fold_accuracies))
    assert result.accuracy_std == pytest.approx(
        np.std(result.fold_accuracies))


def test_random_labels_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8))
    y = rng.integers(0, 2, 200)
    assert 0.35 <= svm_accuracy(x, y, seed=0).accuracy_mean <= 0.65


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
    fast = svm_accuracy(x, y, seed=5, method="fast")
    plain = svm_accuracy(x, y, seed=5, method="sklearn")
    assert fast.fold_accuracies == plain.fold_accuracies
    assert fast.best_C == plain.best_C
    assert (fast.accuracy_mean, fast.accuracy_std) == \
        (plain.accuracy_mean, plain.accuracy_std)


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
    fast = svm_accuracy(x, y)
    plain = svm_accuracy(x, y, method="sklearn")
    assert fast == plain
    assert fast.accuracy_mean == pytest.approx(0.5)


# ------------------------------------------------ selection among embeddings

def _candidates(seed=0, n=120):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    return y, {"noise": rng.normal(size=(n, 4)),
               "weak": rng.normal(size=(n, 4)) + 0.5 * y[:, None],
               "strong": rng.normal(size=(n, 4)) + 3.0 * y[:, None]}


def test_one_candidate_is_the_svm_protocol():
    y, cands = _candidates()
    chosen = select_embeddings({"weak": cands["weak"]}, y, seed=2)
    plain = svm_accuracy(cands["weak"], y, seed=2)
    assert chosen.fold_accuracies == plain.fold_accuracies
    assert chosen.best_C == plain.best_C
    assert chosen.chosen == ["weak"] * 10


def test_selection_follows_the_inner_scores():
    y, cands = _candidates()
    result = select_embeddings(cands, y, seed=0)
    assert result.chosen == ["strong"] * 10
    for scores, name in zip(result.inner_scores, result.chosen, strict=True):
        assert scores[name] == max(scores.values())
    # the inner score of a candidate is its best mean inner accuracy over C,
    # computed here by hand on the first outer fold's training part
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC
    train, _ = next(StratifiedKFold(10, shuffle=True, random_state=0).split(
        np.zeros(len(y)), y))
    x = cands["weak"][train]
    best = max(np.mean([SVC(C=c).fit(x[a], y[train][a]).score(
        x[b], y[train][b]) for a, b in StratifiedKFold(5).split(
            x, y[train])]) for c in (1e-3, 1e-2, 1e-1, 1, 10, 100, 1000))
    assert result.inner_scores[0]["weak"] == pytest.approx(best)


def test_choice_never_reads_the_outer_test_fold():
    # Make the weak candidate perfect on one outer test fold only: if the
    # choice read that fold, it would change there; it must not.
    y, cands = _candidates()
    before = select_embeddings(cands, y, seed=0)
    from sklearn.model_selection import StratifiedKFold
    folds = list(StratifiedKFold(10, shuffle=True, random_state=0).split(
        np.zeros(len(y)), y))
    for k in (0, 4, 9):  # three of the ten folds
        test = folds[k][1]
        leaked = {name: e.copy() for name, e in cands.items()}
        leaked["noise"][test] = 100.0 * y[test, None]
        after = select_embeddings(leaked, y, seed=0)
        assert after.chosen[k] == before.chosen[k]
        assert after.inner_scores[k] == before.inner_scores[k]
        assert after.best_C[k] == before.best_C[k]


def test_candidates_must_embed_the_same_graphs():
    y, cands = _candidates()
    with pytest.raises(ValueError, match="one label per row"):
        select_embeddings({"a": cands["weak"], "b": cands["weak"][:-2]}, y)


# ------------------------------------------------ repeated cross-validation

def test_one_repeat_is_the_single_split_protocol():
    # repeats=1 is StratifiedKFold(shuffle=True, random_state=seed): the
    # folds, C and accuracies of a plain GridSearchCV(SVC()) on those folds.
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC
    y, cands = _candidates(n=80)
    x = cands["weak"]
    result = svm_accuracy(x, y, seed=4, repeats=1)
    accs = []
    for train, test in StratifiedKFold(10, shuffle=True, random_state=4
                                       ).split(x, y):
        search = GridSearchCV(SVC(), {"C": [1e-3, 1e-2, 1e-1, 1, 10, 100,
                                            1000]}, cv=5).fit(x[train],
                                                              y[train])
        accs.append(search.score(x[test], y[test]))
    assert result.fold_accuracies == pytest.approx(accs, abs=0)
    assert result.repeats == 1 and result.repeat_means == [
        pytest.approx(np.mean(accs))]
    assert (result.first_split_mean, result.first_split_std) == (
        result.accuracy_mean, result.accuracy_std)


def test_repeats_draw_new_splits_after_the_first():
    y, cands = _candidates(n=80)
    one = svm_accuracy(cands["weak"], y, seed=4)
    three = svm_accuracy(cands["weak"], y, seed=4, repeats=3)
    assert len(three.fold_accuracies) == 30 == len(three.inner_accuracies)
    assert three.fold_accuracies[:10] == one.fold_accuracies
    assert three.first_split_mean == one.accuracy_mean
    assert three.accuracy_mean == pytest.approx(np.mean(three.repeat_means))
    assert three.accuracy_std == pytest.approx(
        np.std(three.fold_accuracies))
    # the later splits are other splits: their folds' scores differ
    assert three.fold_accuracies[10:20] != three.fold_accuracies[:10]
    # K = 3 by hand: RepeatedStratifiedKFold's splits, one fast SVM each
    from sklearn.model_selection import RepeatedStratifiedKFold
    splits = list(RepeatedStratifiedKFold(n_splits=10, n_repeats=3,
                                          random_state=4).split(y, y))
    assert len({tuple(te) for _, te in splits}) == 30


def test_results_select_as_the_embeddings_do():
    # The grid selects from the candidates' own result files: the same
    # choice, C and accuracy per fold of every split as select_embeddings,
    # which needs only that every cell of a seed has the same splits.
    y, cands = _candidates(n=60)
    for repeats in (1, 3):
        direct = select_embeddings(cands, y, seed=1, repeats=repeats)
        results = {n: svm_accuracy(e, y, seed=1, repeats=repeats).to_dict()
                   for n, e in cands.items()}
        assert select_results(results) == direct


def test_selection_never_reads_a_test_fold_of_any_repeat():
    y, cands = _candidates(n=60)
    before = select_embeddings(cands, y, seed=0, repeats=2)
    from sklearn.model_selection import RepeatedStratifiedKFold
    splits = list(RepeatedStratifiedKFold(n_splits=10, n_repeats=2,
                                          random_state=0).split(y, y))
    for k in (3, 14):  # a fold of the first and of the second split
        leaked = {name: e.copy() for name, e in cands.items()}
        leaked["noise"][splits[k][1]] = 100.0 * y[splits[k][1], None]
        after = select_embeddings(leaked, y, seed=0, repeats=2)
        assert after.chosen[k] == before.chosen[k]
        assert after.inner_scores[k] == before.inner_scores[k]


def test_select_results_refuses_other_splits():
    y, cands = _candidates(n=60)
    one = svm_accuracy(cands["weak"], y, repeats=1)
    two = svm_accuracy(cands["strong"], y, repeats=2)
    with pytest.raises(ValueError, match="different splits"):
        select_results({"a": one, "b": two})
    with pytest.raises(ValueError, match=r"repeats must be an integer in \[1, 1000\)"):
        svm_accuracy(cands["weak"], y, repeats=0)


def test_select_results_compares_what_its_candidates_were_scored_on():
    """Candidates scored on other graphs, another seed, other inner folds
    or C grid, or in percent, are refused by name; results without a
    recorded protocol (older files) are compared by their splits alone."""
    y, cands = _candidates(n=60)
    weak = svm_accuracy(cands["weak"], y, seed=0)
    assert weak.protocol == {
        "graphs": 60, "folds": 10, "seed": 0, "repeats": 1,
        "inner_folds": 5, "c_grid": list(C_GRID), "scale": "fraction",
        "labels_sha256": hashlib.sha256(
            np.unique(y, return_inverse=True)[1].astype(np.int64)
            .tobytes()).hexdigest()}
    same = select_results({"weak": weak, "strong": svm_accuracy(
        cands["strong"], y, seed=0)})
    assert same.protocol == weak.protocol
    others = {
        "seed": svm_accuracy(cands["strong"], y, seed=1),
        "inner_folds": svm_accuracy(cands["strong"], y, inner_folds=3),
        "c_grid": svm_accuracy(cands["strong"], y, c_grid=[1.0, 10.0]),
        "labels_sha256": svm_accuracy(cands["strong"], 1 - y)}
    for key, other in others.items():
        with pytest.raises(ValueError, match=f"candidates 'weak' and 'other'"
                           f" were scored on different {key}"):
            select_results({"weak": weak, "other": other})
    shuffled = weak.to_dict()
    shuffled["fold_accuracies"] = [100 * a for a in weak.fold_accuracies]
    with pytest.raises(ValueError, match="candidate 'pct' holds accuracies "
                       "outside \\[0, 1\\].*not percent"):
        select_results({"weak": weak, "pct": shuffled})
    old = {k: v for k, v in weak.to_dict().items() if k != "protocol"}
    assert select_results({"old": old, "weak": weak}).protocol is None


def test_an_interrupt_cancels_the_folds_not_started_and_waits_for_the_running():
    """Ctrl-C (here raised by one fold) leaves no thread inside a fit when it
    reaches the caller: the folds running then have finished, the rest never
    start."""
    import time

    from hngraph.eval.scoring import _in_threads
    started, finished = [], []

    def fold(i, _):
        started.append(i)
        if i == 1:
            raise KeyboardInterrupt
        time.sleep(0.2)
        finished.append(i)

    with pytest.raises(KeyboardInterrupt):
        _in_threads(fold, [(i, None) for i in range(20)], n_jobs=2)
    assert sorted(started) == sorted(finished + [1])
    assert len(started) < 20
