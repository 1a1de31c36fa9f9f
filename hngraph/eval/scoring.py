r"""Evaluation of frozen graph embeddings: the SVM protocol of
``docs/method.md`` (:func:`svm_accuracy`, :func:`evaluate`), model selection
among several embeddings of the same graphs without the test folds
(:func:`select_embeddings`), and OGB's linear probe (:func:`linear_probe`).

Protocol: RBF :class:`~sklearn.svm.SVC` (``gamma="scale"``); outer
``StratifiedKFold(folds, shuffle=True, random_state=seed)``; in each outer
fold ``C`` is chosen by an inner ``inner_folds``-fold grid search on the
training part only (scikit-learn's ``GridSearchCV(SVC(), cv=inner_folds)``);
the score is the mean (and std) of the outer fold accuracies. With
``repeats=K`` the outer split is drawn K times
(``RepeatedStratifiedKFold(n_splits=folds, n_repeats=K, random_state=seed)``,
whose first split is the one above) and the score is the mean over all K
splits; the first split alone stays in the result as the figure comparable
with published tables.

``method="fast"`` (the default) runs the same protocol on one matrix of
squared distances :math:`D_{ij} = \lVert x_i - x_j \rVert^2` computed once:
every fit takes the kernel :math:`K = e^{-\gamma D}` of its own rows with its
own :math:`\gamma = 1 / (d \cdot \mathrm{Var}(X_{fit}))` (scikit-learn's
``"scale"``), shared by the whole ``C`` grid, and the outer folds can run in
parallel threads. ``method="sklearn"`` runs the plain
``GridSearchCV(SVC())``.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, field, fields

import numpy as np
import torch
from joblib import effective_n_jobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.svm import SVC
from torch_geometric.loader import DataLoader

from ..constraints import (
    FOLDS,
    REPEATS,
    SEED,
    Either,
    Interval,
    Nullable,
    Options,
    check,
    validate_params,
)
from ..data.batching import DeviceGraphs, DeviceLoader
from ..errors import InvalidTypeError, InvalidValueError

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
METHODS = ("fast", "sklearn")
#: The parameters of :func:`svm_accuracy` (beside the arrays and ``c_grid``);
#: :func:`select_embeddings` takes them but ``method``.
SVM_PARAMS = {"folds": FOLDS, "seed": SEED, "inner_folds": FOLDS,
              "method": Options(METHODS),
              "n_jobs": Nullable(Either(Interval(int, -1, 0),
                                        Interval(int, 1, 2 ** 16))),
              "repeats": REPEATS}


@dataclass(kw_only=True)
class SVMResult:
    """What :func:`svm_accuracy` measured, accuracies as fractions in
    [0, 1]: per outer fold of every split (``repeats`` splits of equally
    many folds, one split after the other), its test accuracy, the ``C``
    its inner search chose and that search's best inner score; the mean and
    std over all those folds, each split's mean, and the mean and std of the
    first split alone (the figure of a single 10-fold cross-validation, as
    in published tables). ``to_dict()`` gives the fields as a dict (the keys
    of hngraph's result files), :meth:`from_dict` reads them back.

    Attributes:
        accuracy_mean: mean test accuracy over all folds of all splits.
        accuracy_std: their standard deviation.
        fold_accuracies: each outer fold's test accuracy, split after split.
        best_C: the ``C`` each fold's inner search chose.
        inner_accuracies: that search's best inner cross-validation score.
        repeats: the number of outer splits.
        repeat_means: each split's mean test accuracy.
        first_split_mean: the first split's mean (one 10-fold
            cross-validation, the figure of published tables).
        first_split_std: the first split's standard deviation.
        protocol: what it was scored on (:func:`protocol`), ``None`` for a
            result file written before it was recorded.
    """

    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    best_C: list[float]
    inner_accuracies: list[float]
    repeats: int
    repeat_means: list[float]
    first_split_mean: float
    first_split_std: float
    protocol: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> SVMResult:
        """The fields of this class read from ``values`` (a result
        file's dict; other keys are left out, and a field with a default
        may be missing)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)
                      if f.name in values or f.default is MISSING
                      and f.default_factory is MISSING})


@dataclass(kw_only=True)
class SelectionResult(SVMResult):
    """What :func:`select_embeddings` measured: an :class:`SVMResult` of the
    chosen embeddings, and per outer fold the chosen candidate and every
    candidate's inner cross-validation score (its best over ``C``)."""

    chosen: list[str] = field(default_factory=list)
    inner_scores: list[dict[str, float]] = field(default_factory=list)


#: Embeddings above this magnitude would overflow the squared distances.
MAX_ABS_EMBEDDING = 1e150


def _check_inputs(embeddings, labels, folds, c_grid=C_GRID):
    """The contract of the SVM stage's arguments, clause by clause."""
    try:
        x = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidTypeError(f"embeddings must be a numeric [n, d] array, got "
                               f"{type(embeddings).__name__} ({type(err).__name__})."
                               ) from err
    y = check_labels(labels, folds)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise InvalidValueError(f"embeddings must be [n, d] with one label per row, "
                                f"got {x.shape} and {y.shape[0]} labels.")
    if not np.isfinite(x).all():
        raise InvalidValueError("embeddings contain NaN or inf; the encoder "
                                "diverged or was fed non-finite features.")
    if np.abs(x).max(initial=0.0) > MAX_ABS_EMBEDDING:
        raise InvalidValueError(f"embeddings reach {np.abs(x).max():.3g}, beyond "
                                f"{MAX_ABS_EMBEDDING:g}, where their squared "
                                "distances overflow; standardise them first.")
    try:
        grid = np.asarray(c_grid, dtype=np.float64).ravel() if np.ndim(
            c_grid) else np.array([])
    except (TypeError, ValueError, RuntimeError):
        grid = np.array([])
    if grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise InvalidValueError(f"c_grid must be a non-empty list of finite numbers "
                                f"> 0, got {c_grid!r}.")
    return x, y


def _check_inner_folds(y: np.ndarray, folds: int, inner_folds: int) -> None:
    """The inner folds must fit the smallest class of every outer training
    split: ``n - ceil(n / folds)`` graphs of a class of ``n``."""
    smallest = int(np.bincount(y).min())
    room = smallest - -(-smallest // folds)
    if inner_folds > room:
        raise InvalidValueError(
            f"inner_folds={inner_folds} is more than the {room} graphs of the "
            f"smallest class in an outer training split ({smallest} graphs, "
            f"{folds} outer folds); lower inner_folds or folds.")


def check_labels(labels, folds: int) -> np.ndarray:
    """The class labels as ``0 .. C-1``, checked for the stratified
    ``folds``-fold protocol: at least two classes, each with at least
    ``folds`` graphs (run before training, so that a run that could not be
    scored never trains)."""
    try:
        values = np.asarray(labels)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InvalidTypeError(f"labels must be an array of class labels, "
                               f"got {type(labels).__name__} "
                               f"({type(err).__name__}).") from err
    if values.ndim != 1:
        raise InvalidValueError(f"labels must be one class label per graph ([n]), "
                                f"got shape {values.shape}.")
    missing = [i for i, v in enumerate(values.tolist()) if v is None or (
        isinstance(v, float) and math.isnan(v))]
    if missing:
        raise InvalidValueError(
            f"labels[{missing[0]}] is {values.tolist()[missing[0]]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ": every graph needs a class label; drop the unlabelled graphs "
            "or give them their class.")
    if values.dtype.kind == "f" and not np.all(values == np.round(values)):
        raise InvalidValueError("labels must be class labels (integers or strings), "
                                "got continuous values; an SVM classifier needs "
                                "classes.")
    try:
        y = LabelEncoder().fit_transform(values)
    except TypeError as err:  # labels that cannot be sorted into classes
        kinds = sorted({type(v).__name__ for v in values.ravel().tolist()})
        raise InvalidTypeError(f"labels must be all numbers or all strings, "
                               f"got a mix of {', '.join(kinds)}; give one "
                               "kind of class label.") from err
    counts = np.bincount(y)
    if counts.size < 2:
        raise InvalidValueError("labels hold a single class; accuracy is "
                                "meaningless. Check the dataset's labels.")
    if counts.min() < folds:
        raise InvalidValueError(f"labels: the smallest class has {counts.min()} "
                                f"examples, fewer than folds={folds}; lower "
                                "folds.")
    return y


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

    def inner_search(self, train, c_grid, inner_folds) -> tuple[float, float]:
        """The best mean inner-fold accuracy over ``c_grid`` on the rows
        ``train`` only, and its ``C`` (the first best, as scikit-learn)."""
        inner = StratifiedKFold(n_splits=inner_folds)
        scores = np.zeros((len(c_grid), inner_folds))
        for s, (itr, iva) in enumerate(inner.split(self.x[train],
                                                   self.y[train])):
            for c, pred in enumerate(self.fit_predict(train[itr], train[iva],
                                                      c_grid)):
                scores[c, s] = np.mean(pred == self.y[train[iva]])
        means = np.average(scores, axis=1)
        best = int(np.argmax(means))
        return float(means[best]), float(c_grid[best])

    def test_accuracy(self, train, test, c) -> float:
        """Accuracy on ``test`` of one SVC fitted on ``train``."""
        pred = self.fit_predict(train, test, [c])[0]
        return float(np.mean(pred == self.y[test]))

    def outer_fold(self, train, test, c_grid, inner_folds):
        inner, c = self.inner_search(train, c_grid, inner_folds)
        return self.test_accuracy(train, test, c), c, inner


def _sklearn_fold(x, y, train, test, c_grid, inner_folds):
    search = GridSearchCV(SVC(kernel="rbf"), {"C": list(c_grid)},
                          cv=inner_folds, scoring="accuracy")
    search.fit(x[train], y[train])
    return (float(np.mean(search.predict(x[test]) == y[test])),
            float(search.best_params_["C"]), float(search.best_score_))


@validate_params(SVM_PARAMS)
def svm_accuracy(embeddings, labels, *, folds: int = 10, seed: int = 0,
                 inner_folds: int = 5, c_grid=C_GRID, method: str = "fast",
                 n_jobs: int | None = -1, repeats: int = 1) -> SVMResult:
    """Accuracy of an RBF SVM on embeddings under nested cross-validation.

    Args:
        embeddings: ``[n, d]`` array.
        labels: ``[n]`` class labels (any hashable values).
        folds: outer stratified folds (shuffled with ``seed``).
        seed: seed of the outer splits.
        inner_folds: folds of the inner grid search over ``c_grid``.
        c_grid: candidate values of ``C``.
        method: ``"fast"`` (shared distance matrix) or ``"sklearn"`` (plain
            ``GridSearchCV(SVC())``); both follow the same protocol.
        n_jobs: outer folds run in parallel on this many threads (joblib;
            ``-1``: one per core). The result does not depend on it.
        repeats: outer splits drawn with ``seed``
            (``RepeatedStratifiedKFold``); the first is the split of
            ``repeats=1``. The same ``labels``, ``folds``, ``seed`` and
            ``repeats`` give the same splits for any embeddings.

    Returns:
        An :class:`SVMResult`.
    """
    x, y = _check_inputs(embeddings, labels, folds, c_grid)
    _check_inner_folds(y, folds, inner_folds)
    splits = _outer_splits(y, folds, seed, repeats)
    if method == "fast":
        svm = _KernelSVM(x, y, squared_distances(x))
        out = _in_threads(lambda tr, te: svm.outer_fold(tr, te, c_grid,
                                                        inner_folds),
                          splits, n_jobs)
    else:
        out = _in_threads(lambda tr, te: _sklearn_fold(x, y, tr, te, c_grid,
                                                       inner_folds),
                          splits, n_jobs)
    return _result(SVMResult, out, repeats, protocol=protocol(
        y, folds, seed, inner_folds, c_grid, repeats))


def _in_threads(fold: Callable, splits: list, n_jobs: int | None) -> list:
    """``[fold(train, test) for train, test in splits]`` on ``n_jobs``
    threads (joblib's meaning of ``n_jobs``). libsvm releases the GIL, so
    threads share the data at no copying cost. On any exception, Ctrl-C
    included, the folds not yet started are cancelled and the running ones
    are waited for before it propagates: no thread is left inside libsvm
    when the interpreter exits (one that is aborts the process)."""
    with ThreadPoolExecutor(effective_n_jobs(n_jobs)) as pool:
        futures = [pool.submit(fold, train, test) for train, test in splits]
        try:
            return [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def _outer_splits(y: np.ndarray, folds: int, seed: int, repeats: int
                  ) -> list:
    """The outer folds of every split, one split after the other: they
    depend on the labels, ``folds``, ``seed`` and ``repeats`` only."""
    check(REPEATS, repeats, "repeats")
    return list(RepeatedStratifiedKFold(
        n_splits=folds, n_repeats=repeats, random_state=seed).split(
            np.zeros(len(y)), y))


def protocol(labels: np.ndarray, folds: int, seed: int, inner_folds: int,
             c_grid, repeats: int) -> dict:
    """What an SVM stage scored on, for comparing results
    (:func:`select_results`): the number of graphs, a hash of their labels
    (SHA-256 of the class index of each row, classes in sorted order), the
    outer ``folds``, ``seed`` and ``repeats``, the ``inner_folds``, the
    ``c_grid``, and the scale of its accuracies (fractions)."""
    classes = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    return {"graphs": int(len(labels)),
            "labels_sha256": hashlib.sha256(classes.tobytes()).hexdigest(),
            "folds": int(folds), "seed": int(seed), "repeats": int(repeats),
            "inner_folds": int(inner_folds),
            "c_grid": [float(c) for c in np.ravel(c_grid)],
            "scale": "fraction"}


def _result(kind, out, repeats: int, **extra):
    """``kind`` from ``(accuracy, C, inner score)`` per outer fold."""
    accs = [a for a, _, _ in out]
    per_split = np.reshape(accs, (repeats, -1))
    return kind(accuracy_mean=float(np.mean(accs)),
                accuracy_std=float(np.std(accs)), fold_accuracies=accs,
                best_C=[c for _, c, _ in out],
                inner_accuracies=[i for _, _, i in out], repeats=repeats,
                repeat_means=[float(m) for m in per_split.mean(axis=1)],
                first_split_mean=float(per_split[0].mean()),
                first_split_std=float(per_split[0].std()), **extra)


@validate_params({k: c for k, c in SVM_PARAMS.items() if k != "method"})
def select_embeddings(candidates: Mapping[str, np.ndarray], labels,
                      *, folds: int = 10, seed: int = 0, inner_folds: int = 5,
                      c_grid=C_GRID, n_jobs: int | None = -1,
                      repeats: int = 1) -> SelectionResult:
    """Choose among several embeddings of the same graphs (one per setting
    of a hyper-parameter, say ``beta``) without looking at the test folds.

    Within each outer fold of :func:`svm_accuracy`'s protocol, every
    candidate gets the inner grid search over ``C`` on that fold's training
    part only; the candidate with the best inner score (the first in
    ``candidates``' order on a tie) is then fitted on the training part with
    its ``C`` and scored on the outer test fold. The outer test fold is
    never read before that last step, so the score is an unbiased estimate
    of the whole procedure, selection included (nested cross-validation).
    With ``repeats=K`` the selection runs within every fold of each of the
    K splits.

    Args:
        candidates: name -> ``[n, d]`` embeddings, rows in the same order.
        labels, folds, seed, inner_folds, c_grid, n_jobs, repeats: as in
            :func:`svm_accuracy` (the same outer folds for the same seed).

    Returns:
        A :class:`SelectionResult`.
    """
    if not isinstance(candidates, Mapping) or not candidates:
        raise InvalidValueError("candidates must be a non-empty mapping of names to "
                                f"embeddings, got {type(candidates).__name__}.")
    svms = {}
    for name, emb in candidates.items():
        x, y = _check_inputs(emb, labels, folds, c_grid)
        _check_inner_folds(y, folds, inner_folds)
        svms[name] = _KernelSVM(x, y, squared_distances(x))

    def fold(train, test):
        scores = {name: svm.inner_search(train, c_grid, inner_folds)
                  for name, svm in svms.items()}
        best = _first_best({name: s for name, (s, _) in scores.items()})
        c = scores[best][1]
        return (svms[best].test_accuracy(train, test, c), c, best,
                {name: score for name, (score, _) in scores.items()})

    out = _in_threads(fold, _outer_splits(y, folds, seed, repeats), n_jobs)
    return _selection(out, repeats, protocol(y, folds, seed, inner_folds,
                                             c_grid, repeats))


def _first_best(scores: Mapping[str, float]) -> str:
    """The name with the highest score, the first in order on a tie."""
    return max(scores, key=scores.get)


def _selection(out, repeats: int, scored_on: dict | None
               ) -> SelectionResult:
    """A :class:`SelectionResult` from ``(accuracy, C, chosen, inner
    scores)`` per outer fold."""
    return _result(SelectionResult, [(a, c, s[b]) for a, c, b, s in out],
                   repeats, protocol=scored_on,
                   chosen=[b for _, _, b, _ in out],
                   inner_scores=[s for _, _, _, s in out])


def select_results(candidates: Mapping[str, SVMResult]) -> SelectionResult:
    """:func:`select_embeddings` from the candidates' own
    :func:`svm_accuracy` results, without their embeddings.

    Each outer fold's inner search of a candidate is the one its own
    :func:`svm_accuracy` ran on the same rows, so its inner score, chosen
    ``C`` and test accuracy are already in its result: the candidate with
    the best inner score (the first in ``candidates``' order on a tie) is
    chosen, and its recorded test accuracy is that fold's score. The result
    equals ``select_embeddings`` of the same embeddings with the same
    ``labels``, ``folds``, ``seed``, ``repeats``, ``inner_folds`` and
    ``c_grid`` (the ``fast`` method). The candidates must have been scored
    on the same graphs, folds, seed and C grid (their :func:`protocol`,
    compared where recorded), with accuracies as fractions.

    Args:
        candidates: name -> :class:`SVMResult` (or a result file's dict).

    Returns:
        A :class:`SelectionResult`.
    """
    if not isinstance(candidates, Mapping) or not candidates:
        raise InvalidValueError("candidates must be a non-empty mapping of names to "
                                f"SVMResult, got {type(candidates).__name__}.")
    found = {name: r if isinstance(r, SVMResult) else SVMResult.from_dict(r)
             for name, r in candidates.items()}
    for name, r in found.items():
        values = [*r.fold_accuracies, *r.inner_accuracies]
        if not all(0.0 <= v <= 1.0 for v in values):
            raise InvalidValueError(f"candidate {name!r} holds accuracies outside "
                                    f"[0, 1] (for example {max(values)!r}); give "
                                    "them as fractions, as svm_accuracy does, not "
                                    "percent.")
    shapes = {(r.repeats, len(r.fold_accuracies)) for r in found.values()}
    if len(shapes) != 1:
        raise InvalidValueError("candidates were scored on different splits "
                                f"(repeats, outer folds): {sorted(shapes)}; score "
                                "them with the same folds, seed and repeats.")
    recorded = {n: r.protocol for n, r in found.items()
                if r.protocol is not None}
    first = next(iter(recorded.items()), (None, None))
    for name, p in recorded.items():
        differ = sorted(k for k in set(p) | set(first[1])
                        if p.get(k) != first[1].get(k))
        if differ:
            raise InvalidValueError(
                f"candidates {first[0]!r} and {name!r} were scored on "
                f"different {', '.join(differ)} ("
                f"{first[1].get(differ[0])!r} and {p.get(differ[0])!r}); "
                "a selection compares candidates "
                "scored on the same graphs, folds, seed and C grid.")
    out = []
    for f in range(len(next(iter(found.values())).fold_accuracies)):
        scores = {name: r.inner_accuracies[f] for name, r in found.items()}
        best = _first_best(scores)
        out.append((found[best].fold_accuracies[f], found[best].best_C[f],
                    best, scores))
    return _selection(out, shapes.pop()[0], first[1]
                      if len(recorded) == len(found) else None)


def evaluate(model, dataset, *, seed: int = 0, folds: int = 10,
             batch_size: int = 512, repeats: int = 1) -> SVMResult:
    """Embed every graph (eval mode) and score it with :func:`svm_accuracy`.

    ``dataset`` is a PyG dataset or a :class:`~hngraph.data.batching.DeviceGraphs`.
    """
    if isinstance(dataset, DeviceGraphs):
        loader = DeviceLoader(dataset, batch_size, shuffle=False)
    else:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    emb, labels = model.embed(loader)
    return svm_accuracy(emb, labels, folds=folds, seed=seed,
                        repeats=repeats)


def linear_probe(model, dataset, *, batch_size: int = 256,
                 device: str | torch.device = "cpu", seed: int = 0) -> dict:
    """Logistic regression on frozen embeddings of an OGB dataset (loaded by
    :func:`hngraph.data.ogb_graphs.load_ogb`), scored by OGB's Evaluator (ROC-AUC
    for ``ogbg-molhiv``).

    One standardised logistic regression per task is fitted on the training
    split (rows whose label is NaN are left out); the probabilities on the
    validation and test splits are scored with
    ``ogb.graphproppred.Evaluator(dataset.ogb_name)``.

    Returns:
        ``{"valid": {metric: value}, "test": {metric: value}}``.
    """
    from ogb.graphproppred import Evaluator

    evaluator = Evaluator(dataset.ogb_name)
    if evaluator.eval_metric not in ("rocauc", "ap"):
        raise InvalidValueError(
            f"linear_probe scores binary classification tasks (ROC-AUC or "
            f"AP); {dataset.ogb_name} is scored by {evaluator.eval_metric}. "
            "Fit a model of its task on the embeddings of model.embed.")
    emb, _ = model.embed(DataLoader(dataset, batch_size=batch_size), device)
    y = dataset.y.view(len(dataset), -1).float().numpy()
    split = {k: v.numpy() for k, v in dataset.split_idx.items()}
    train = split["train"]
    probs = np.full_like(y, np.nan)
    for task in range(y.shape[1]):
        rows = train[~np.isnan(y[train, task])]
        if len(np.unique(y[rows, task])) < 2:
            raise InvalidValueError(f"task {task} has a single class in the "
                                    "training split; it cannot be probed.")
        clf = make_pipeline(StandardScaler(), LogisticRegression(
            max_iter=2000, random_state=seed))
        clf.fit(emb[rows], y[rows, task].astype(int))
        probs[:, task] = clf.predict_proba(emb)[:, 1]
    return {part: evaluator.eval({"y_true": y[split[part]],
                                  "y_pred": probs[split[part]]})
            for part in ("valid", "test")}


#: The public names (the API reference lists these).
__all__ = ["SVMResult", "SelectionResult", "svm_accuracy", "select_embeddings",
           "select_results", "evaluate", "linear_probe",
           "protocol", "C_GRID"]
