r"""SVM evaluation of frozen graph embeddings (the protocol of
``docs/method.md``).

Protocol: RBF :class:`~sklearn.svm.SVC` (``gamma="scale"``); outer
``StratifiedKFold(folds, shuffle=True, random_state=seed)``; in each outer
fold ``C`` is chosen by an inner ``inner_folds``-fold grid search on the
training part only (scikit-learn's ``GridSearchCV(SVC(), cv=inner_folds)``);
the score is the mean (and std) of the outer fold accuracies.

``method="fast"`` (the default) runs the same protocol on one matrix of
squared distances :math:`D_{ij} = \lVert x_i - x_j \rVert^2` computed once:
every fit takes the kernel :math:`K = e^{-\gamma D}` of its own rows with its
own :math:`\gamma = 1 / (d \cdot \mathrm{Var}(X_{fit}))` (scikit-learn's
``"scale"``), shared by the whole ``C`` grid, and the outer folds can run in
parallel threads. ``method="sklearn"`` runs the plain
``GridSearchCV(SVC())``.
"""
from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
METHODS = ("fast", "sklearn")


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


def squared_distances(x: np.ndarray) -> np.ndarray:
    r""":math:`D_{ij} = \lVert x_i\rVert^2 + \lVert x_j\rVert^2 - 2 x_i^\top
    x_j`, clipped at 0, in float64. Shapes: ``[n, d] -> [n, n]``."""
    sq = np.einsum("ij,ij->i", x, x)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d, 0.0, out=d)
    return d


def _scale_gamma(x: np.ndarray) -> float:
    """scikit-learn's ``gamma="scale"``: ``1 / (d Var(x))``, and 1 where the
    rows are all equal (collapsed embeddings), as scikit-learn does."""
    var = x.var()
    return 1.0 / (x.shape[1] * var) if var != 0 else 1.0


class _KernelSVM:
    """RBF SVMs on rows of a shared distance matrix, gamma as sklearn's
    ``"scale"`` for the rows a model is fitted on."""

    def __init__(self, x, y, dist):
        self.x, self.y, self.dist = x, y, dist

    def fit_predict(self, train, test, c_values):
        """Predictions on ``test`` of one SVC per ``C``, fitted on ``train``."""
        gamma = _scale_gamma(self.x[train])
        k_train = np.exp(-gamma * self.dist[np.ix_(train, train)])
        k_test = np.exp(-gamma * self.dist[np.ix_(test, train)])
        preds = []
        for c in c_values:
            svc = SVC(kernel="precomputed", C=c).fit(k_train, self.y[train])
            preds.append(svc.predict(k_test))
        return preds

    def outer_fold(self, train, test, c_grid, inner_folds):
        inner = StratifiedKFold(n_splits=inner_folds)
        scores = np.zeros((len(c_grid), inner_folds))
        for s, (itr, iva) in enumerate(inner.split(self.x[train],
                                                   self.y[train])):
            for c, pred in enumerate(self.fit_predict(train[itr], train[iva],
                                                      c_grid)):
                scores[c, s] = np.mean(pred == self.y[train[iva]])
        best = int(np.argmax(np.average(scores, axis=1)))  # first best, as sklearn
        pred = self.fit_predict(train, test, [c_grid[best]])[0]
        return float(np.mean(pred == self.y[test])), float(c_grid[best])


def _sklearn_fold(x, y, train, test, c_grid, inner_folds):
    search = GridSearchCV(SVC(kernel="rbf"), {"C": list(c_grid)},
                          cv=inner_folds, scoring="accuracy")
    search.fit(x[train], y[train])
    return (float(np.mean(search.predict(x[test]) == y[test])),
            float(search.best_params_["C"]))


def svm_accuracy(embeddings, labels, folds: int = 10, seed: int = 0,
                 inner_folds: int = 5, c_grid=C_GRID, return_folds: bool = False,
                 method: str = "fast", n_jobs: int | None = -1):
    """Accuracy of an RBF SVM on embeddings under nested cross-validation.

    Args:
        embeddings: ``[n, d]`` array.
        labels: ``[n]`` class labels (any hashable values).
        folds: outer stratified folds (shuffled with ``seed``).
        seed: seed of the outer split.
        inner_folds: folds of the inner grid search over ``c_grid``.
        c_grid: candidate values of ``C``.
        return_folds: also return the per-fold accuracies and chosen ``C``.
        method: ``"fast"`` (shared distance matrix) or ``"sklearn"`` (plain
            ``GridSearchCV(SVC())``); both follow the same protocol.
        n_jobs: outer folds run in parallel on this many threads (joblib;
            ``-1``: one per core). The result does not depend on it.

    Returns:
        ``(mean, std)`` of the fold accuracies (fractions in [0, 1]), or
        ``(mean, std, details)`` with ``details = {"fold_accuracies": [...],
        "best_C": [...]}`` when ``return_folds`` is true.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    x, y = _check_inputs(embeddings, labels, folds)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True,
                                  random_state=seed).split(x, y))
    if method == "fast":
        svm = _KernelSVM(x, y, squared_distances(x))
        jobs = (delayed(svm.outer_fold)(tr, te, c_grid, inner_folds)
                for tr, te in splits)
    else:
        jobs = (delayed(_sklearn_fold)(x, y, tr, te, c_grid, inner_folds)
                for tr, te in splits)
    # libsvm releases the GIL: threads share the data at no copying cost.
    out = Parallel(n_jobs=n_jobs, prefer="threads")(jobs)
    accs = [a for a, _ in out]
    mean, std = float(np.mean(accs)), float(np.std(accs))
    if return_folds:
        return mean, std, {"fold_accuracies": accs, "best_C": [c for _, c in out]}
    return mean, std
