"""The public functions fuzzed: each call starts from valid arguments, and
one argument is replaced by a generated wrong value (wrong type, None,
empty, NaN or infinite, out of range, wrong shape or dtype, a tensor on
another device) or by a NumPy scalar. Each call either raises the package's
error (a ``TypeError`` or ``ValueError`` for a wrong value) naming that
argument, or returns a finite result. ``HNGRAPH_FUZZ_EXAMPLES`` sets the examples per function (CI: 40;
with ``pytest -s`` each prints its outcomes); a failure prints its seed."""
import math
import os
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

import hngraph
from hngraph import (
    GINEncoder,
    GraphCL,
    GraphDataset,
    GridConfig,
    HardInfoNCELoss,
    InfoGraph,
    JSDLocalGlobalLoss,
    ProjectionHead,
    TrainConfig,
    augment_batch,
    embed,
    fit,
    hard_infonce,
    jsd_local_global,
    load_model,
    load_tudataset,
    seed_everything,
    select_embeddings,
    select_results,
    svm_accuracy,
)
from hngraph.data.features import fit_feature_recipe
from hngraph.errors import HngraphError
from hngraph.nn.losses import negative_weights

EXAMPLES = int(os.environ.get("HNGRAPH_FUZZ_EXAMPLES", "40"))


def _graph(n=4, dim=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ring = torch.arange(n)
    edges = torch.stack([ring, (ring + 1) % n])
    return Data(x=torch.rand(n, dim, generator=gen),
                edge_index=torch.cat([edges, edges.flip(0)], 1),
                y=torch.tensor([seed % 2]))


def _graphs(count=6):
    return [_graph(4 + i % 3, seed=i) for i in range(count)]


def _model():
    torch.manual_seed(0)
    model = InfoGraph(3, hidden=4, layers=1)
    model.feature_recipe = fit_feature_recipe(_graphs(), "labels")
    return model


def _mask(n=3):
    return ~torch.eye(n, dtype=torch.bool)


#: Files the calls read: a model file and the raw MUTAG files
#: (set by the ``files`` fixture, which also runs the calls in a temporary
#: working folder).
FILES = {}


@pytest.fixture(scope="module", autouse=True)
def files(tmp_path_factory, data_root):
    folder = tmp_path_factory.mktemp("fuzz")
    _model().save(folder / "model.pt")
    FILES.update(model=folder / "model.pt", root=data_root,
                 cache=folder / "cache")
    load_tudataset("MUTAG", root=data_root, cache=FILES["cache"])
    # A drawn relative path (``cache="x"``) is written under the temporary
    # folder, never into the working folder.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield


def _scored(seed):
    emb = np.random.default_rng(seed).normal(size=(12, 3))
    return svm_accuracy(emb, np.array([0, 1] * 6), folds=2, inner_folds=2,
                        c_grid=(1.0,), n_jobs=1)


#: Each public function: (the call, its valid arguments).
CALLS = {
    "jsd_local_global": (jsd_local_global, lambda: dict(
        node_emb=torch.randn(6, 4), graph_emb=torch.randn(2, 4),
        batch=torch.tensor([0, 0, 0, 1, 1, 1]), beta=1.0, tau_plus=0.5,
        reweight="paper", chunk_size=None)),
    "hard_infonce": (hard_infonce, lambda: dict(
        z1=torch.randn(3, 4), z2=torch.randn(3, 4), beta=1.0, tau_plus=0.1,
        temperature=0.5, reweight="paper")),
    "negative_weights": (negative_weights, lambda: dict(
        scores=torch.randn(3, 3), neg_mask=_mask(), beta=1.0,
        reweight="paper")),
    "JSDLocalGlobalLoss": (JSDLocalGlobalLoss, lambda: dict(
        beta=1.0, tau_plus=0.5, reweight="paper", chunk_size=None)),
    "HardInfoNCELoss": (HardInfoNCELoss, lambda: dict(
        beta=1.0, tau_plus=0.5, temperature=0.5, reweight="paper")),
    "InfoGraph": (InfoGraph, lambda: dict(
        encoder=3, hidden=4, layers=1, beta=1.0, tau_plus=0.5,
        reweight="paper", prior=False, gamma=0.1, chunk_size=None,
        init="xavier")),
    "GraphCL": (GraphCL, lambda: dict(
        encoder=3, hidden=4, layers=1, beta=1.0, tau_plus=0.5,
        temperature=0.5, reweight="paper", aug1="node_drop",
        aug2="subgraph", aug_ratio=0.2, init="xavier")),
    "augment_batch": (augment_batch, lambda: dict(
        name="edge_perturb", batch=Batch.from_data_list(_graphs(2)),
        ratio=0.2)),
    "svm_accuracy": (svm_accuracy, lambda: dict(
        embeddings=np.random.default_rng(0).normal(size=(12, 3)),
        labels=np.array([0, 1] * 6), folds=2, seed=0, inner_folds=2,
        c_grid=(1.0, 10.0), method="fast", n_jobs=1, repeats=1)),
    "fit": (fit, lambda: dict(
        model=_model(), dataset=_graphs(), epochs=1, batch_size=3, lr=0.01,
        seed=0, device="cpu", folds=2, progress=False, batching="auto",
        batch_order="shuffle")),
    "embed": (embed, lambda: dict(
        model=_model(), graphs=_graphs(), batch_size=4, device="cpu")),
    "fit_feature_recipe": (fit_feature_recipe, lambda: dict(
        graphs=_graphs(), features="auto")),
    "GINEncoder": (GINEncoder, lambda: dict(in_dim=3, hidden=4, layers=1)),
    "ProjectionHead": (ProjectionHead, lambda: dict(dim=4)),
    "seed_everything": (seed_everything, lambda: dict(seed=0)),
    "select_embeddings": (select_embeddings, lambda: dict(
        candidates={"a": np.random.default_rng(0).normal(size=(12, 3)),
                    "b": np.random.default_rng(1).normal(size=(12, 3))},
        labels=np.array([0, 1] * 6), folds=2, seed=0, inner_folds=2,
        c_grid=(1.0, 10.0), n_jobs=1, repeats=1)),
    "select_results": (select_results, lambda: dict(
        candidates={"a": _scored(0), "b": _scored(1)})),
    "load_model": (load_model, lambda: dict(
        path=FILES["model"], map_location="cpu", encoder=None)),
    "load_tudataset": (load_tudataset, lambda: dict(
        name="MUTAG", root=FILES["root"], features="auto",
        use_node_attr=False, cache=FILES["cache"], download=False)),
    "GraphDataset": (GraphDataset, lambda: dict(
        data_list=_graphs(), name="toy", feature_recipe={"kind": "labels", "dim": 3},
        raw_dir=None)),
    "TrainConfig": (TrainConfig, lambda: dict(
        dataset="MUTAG", hidden=8, epochs=1, batch_size=16, lr=0.01, seed=0,
        folds=2, out="results")),
    "GridConfig": (GridConfig, lambda: dict(
        out="out", seeds=[0], datasets=["MUTAG"],
        cells={"a": {"beta": 0, "tau_plus": 0}}, repeats=1)),
}


def test_every_public_name_is_fuzzed():
    assert sorted(CALLS) == sorted({*hngraph.__all__, "negative_weights",
                                    "fit_feature_recipe"})

#: Wrong values of every kind, and NumPy scalars that stand for numbers.
WRONG = st.sampled_from([
    None, "x", "", True, -1, 0, 1.5, 2 ** 70, -1e300, math.nan, math.inf,
    [], [1, 2], {}, np.int64(2), np.float32(0.5), np.float64(math.nan),
    object()]) | st.integers(-5, 40) | st.floats(-1e3, 1e3) | st.builds(
    lambda shape, dtype: torch.zeros(
        shape, dtype=dtype), st.sampled_from([(0,), (3,), (2, 2, 2), (0, 4),
                                              (6, 5)]),
    st.sampled_from([torch.float32, torch.int64, torch.bool])) | st.just(
        torch.full((3, 4), math.nan)) | st.just(
        torch.ones(3, 4, device="meta"))


def _finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.device.type == "meta" or bool(
            torch.isfinite(value.float()).all())
    if isinstance(value, np.ndarray):
        return bool(np.isfinite(value).all())
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values()
                   if isinstance(v, (float, torch.Tensor, np.ndarray)))
    if hasattr(value, "accuracy_mean"):
        return 0 <= value.accuracy_mean <= 1
    return True


@pytest.mark.parametrize("name", sorted(CALLS))
def test_public_functions_name_a_wrong_argument_or_return_finite(name):
    call, valid = CALLS[name]
    outcomes = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              print_blob=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def check(data):
        args = valid()
        param = data.draw(st.sampled_from(sorted(args)), label="argument")
        args[param] = data.draw(WRONG, label="value")
        try:
            out = call(**args)
        except Exception as err:  # the package's error, naming the argument
            assert isinstance(err, HngraphError), repr(err)
            # or quoting the value, as "TU dataset 'x' not found" does, or
            # naming the path a path argument was given
            assert param in str(err) or repr(args[param]) in str(err) or (
                param in ("path", "root", "cache")
                and str(args[param]) in str(err)), (param, str(err))
            outcomes["refused, naming the argument"] += 1
            return
        assert isinstance(out, torch.nn.Module) or _finite(out), \
            (param, args[param], out)
        outcomes["returned a finite result"] += 1

    check()
    print(f"\n{name}: {sum(outcomes.values())} examples, {dict(outcomes)}")
