r"""SVM evaluation of frozen graph embeddings (DESIGN section 4).

Protocol: RBF :class:`~sklearn.svm.SVC`; outer
``StratifiedKFold(folds, shuffle=True, random_state=seed)``; in each outer
fold ``C`` is chosen by an inner ``inner_folds``-fold grid search on the
training part only; the score is the mean (and std) of the outer fold
accuracies.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def _check_inputs(embeddings, labels, folds):
    x = np.asarray(embeddings, dtype=np.float64)
    y = LabelEncoder().fit_transform(np.asarray(labels).ravel())
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"embeddings must be [n, d] with one label per row, "
                         f"got {x.shape} and {y.shape[0]} labels.")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or inf; the encoder "
                         "diverged or was fed non-finite features.")
    counts = np.bincount(y)
    if counts.size < 2:
        raise ValueError("labels hold a single class; accuracy is "
                         "meaningless. Check the dataset's labels.")
    if counts.min() < folds:
        raise ValueError(f"the smallest class has {counts.min()} examples, "
                         f"fewer than folds={folds}; lower folds.")
    return x, y


def svm_accuracy(embeddings, labels, folds: int = 10, seed: int = 0,
                 inner_folds: int = 5, c_grid=C_GRID, return_folds: bool = False,
                 n_jobs: int | None = None):
    """Accuracy of an RBF SVM on embeddings under nested cross-validation.

    Args:
        embeddings: ``[n, d]`` array.
        labels: ``[n]`` class labels (any hashable values).
        folds: outer stratified folds (shuffled with ``seed``).
        seed: seed of the outer split.
        inner_folds: folds of the inner grid search over ``c_grid``.
        c_grid: candidate values of ``C``.
        return_folds: also return the per-fold accuracies and chosen ``C``.
        n_jobs: parallel jobs of the inner grid search (scikit-learn's).

    Returns:
        ``(mean, std)`` of the fold accuracies (fractions in [0, 1]), or
        ``(mean, std, details)`` with ``details = {"fold_accuracies": [...],
        "best_C": [...]}`` when ``return_folds`` is true.
    """
    x, y = _check_inputs(embeddings, labels, folds)
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accs, best_c = [], []
    for train, test in outer.split(x, y):
        search = GridSearchCV(SVC(kernel="rbf"), {"C": list(c_grid)},
                              cv=inner_folds, scoring="accuracy", n_jobs=n_jobs)
        search.fit(x[train], y[train])
        accs.append(float((search.predict(x[test]) == y[test]).mean()))
        best_c.append(float(search.best_params_["C"]))
    mean, std = float(np.mean(accs)), float(np.std(accs))
    if return_folds:
        return mean, std, {"fold_accuracies": accs, "best_C": best_c}
    return mean, std
