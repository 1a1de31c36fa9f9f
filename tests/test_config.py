"""Each setting is declared once in TrainConfig: every entry point rejects
the same invalid values with the same message."""
import dataclasses
import inspect
import re

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from hngraph import GraphCL, InfoGraph, augment_batch, fit
from hngraph.cli import main
from hngraph.config import TrainConfig, check_setting
from hngraph.constraints import OfType, Options
from hngraph.data.augment import AUGMENT_PARAMS
from hngraph.nn.losses import (
    HardInfoNCELoss,
    JSDLocalGlobalLoss,
    hard_infonce,
    jsd_local_global,
)
from hngraph.train.loop import FIT_PARAMS

SETTINGS = [f for f in dataclasses.fields(TrainConfig)]


def _invalid(f):
    return f.metadata["constraint"].invalid()


def _expected(f, label):
    return (f"{label} must be {f.metadata['constraint']}, got "
            f"{_invalid(f)!r}")


@pytest.mark.parametrize("f", SETTINGS, ids=lambda f: f.name)
def test_config_rejects_an_invalid_value(f):
    with pytest.raises((TypeError, ValueError)) as err:
        TrainConfig.from_dict({f.name: _invalid(f)})
    assert _expected(f, f"config key {f.name!r}") in str(err.value)


@pytest.mark.parametrize("f", SETTINGS, ids=lambda f: f.name)
def test_cli_rejects_an_invalid_value(f, capsys, tmp_path):
    bad = _invalid(f)
    flag = "--" + f.name.replace("_", "-")
    constraint = f.metadata["constraint"]
    if isinstance(getattr(constraint, "inner", constraint), OfType):
        pytest.skip(f"{flag} takes any text, or is an on/off flag")
    values = [str(v) for v in bad] if isinstance(bad, list) else [str(bad)]
    argv = ["train", "--dataset", "MUTAG", "--out", str(tmp_path), flag,
            *values]
    if f.name == "dataset":
        argv = ["train", "--out", str(tmp_path), flag, *values]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hngraph: error: {flag} must be "
                          f"{f.metadata['constraint']}, got "), err


# Every setting that a model or a loss takes, and what takes it.
API = {"beta": [InfoGraph, GraphCL, JSDLocalGlobalLoss, HardInfoNCELoss],
       "tau_plus": [InfoGraph, GraphCL, JSDLocalGlobalLoss, HardInfoNCELoss],
       "reweight": [InfoGraph, GraphCL, JSDLocalGlobalLoss, HardInfoNCELoss],
       "temperature": [GraphCL, HardInfoNCELoss],
       "chunk_size": [InfoGraph, JSDLocalGlobalLoss],
       "hidden": [InfoGraph, GraphCL], "layers": [InfoGraph, GraphCL],
       "init": [InfoGraph, GraphCL],
       "prior": [InfoGraph], "gamma": [InfoGraph],
       "aug1": [GraphCL], "aug2": [GraphCL], "aug_ratio": [GraphCL]}


def test_api_table_covers_every_argument():
    for target in (InfoGraph, GraphCL, JSDLocalGlobalLoss, HardInfoNCELoss):
        # the components passed in are no settings
        names = set(inspect.signature(target).parameters) - {
            "encoder", "loss", "weighting"}
        assert names == {k for k, v in API.items() if target in v}, target


@pytest.mark.parametrize("name,target", [(k, t) for k, v in API.items()
                                         for t in v],
                         ids=lambda x: getattr(x, "__name__", x))
def test_python_api_rejects_an_invalid_value(name, target):
    f = next(f for f in SETTINGS if f.name == name)
    args = (4,) if target in (InfoGraph, GraphCL) else ()
    with pytest.raises((TypeError, ValueError)) as err:
        target(*args, **{name: _invalid(f)})
    constraint = f.metadata["constraint"]
    if name == "tau_plus":  # null is the config's "the objective's default"
        constraint = constraint.inner
    assert f"{name} must be {constraint}, got {_invalid(f)!r}" in str(
        err.value)


def test_loss_functions_check_like_the_modules():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        jsd_local_global(z, z, torch.arange(4), beta=float("nan"))
    with pytest.raises(ValueError, match="temperature must be a finite"):
        hard_infonce(z, z, temperature=0.0)


def test_float_settings_take_integers_and_store_floats():
    config = TrainConfig(beta=1, lr=1)
    assert isinstance(config.beta, float) and isinstance(config.lr, float)


def test_renamed_reweight_still_works_with_a_warning():
    constraint = next(f for f in SETTINGS if f.name == "reweight") \
        .metadata["constraint"]
    assert isinstance(constraint.options[0], Options)
    with pytest.warns(FutureWarning, match="renamed 'hcl-code'"):
        assert check_setting("reweight", "reference") == "hcl-code"
    with pytest.warns(FutureWarning):
        assert InfoGraph(4, reweight="reference").config["reweight"] \
            == "hcl-code"




def test_config_rejections():
    from hngraph import TrainConfig
    with pytest.raises(KeyError, match=re.escape(
            "config: unknown key(s) 'epoch' (did you mean 'epochs'?). It "
            "takes: aug1, aug2,")):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(TypeError, match="'beta' must be a finite number"):
        TrainConfig.from_dict({"beta": "high"})
    with pytest.raises(TypeError, match="'prior' must be true or false"):
        TrainConfig.from_dict({"prior": 1})


def test_nan_is_no_number_for_any_setting():
    with pytest.raises(ValueError, match="'beta' must be a finite number"):
        TrainConfig(beta=float("nan"))
    with pytest.raises(ValueError, match="'lr' must be a finite number > 0"):
        TrainConfig(lr=float("inf"))


def test_every_entry_point_has_the_config_defaults():
    """The models, the losses (classes and functions) and fit default to
    TrainConfig's values (hard negatives, 200 epochs); plain InfoGraph is
    asked for by its values."""
    import dataclasses
    import inspect

    from hngraph import (
        GraphCL,
        HardInfoNCELoss,
        InfoGraph,
        JSDLocalGlobalLoss,
        fit,
        hard_infonce,
        jsd_local_global,
    )
    config = TrainConfig()
    # every setting but what only a run of the command line has (dataset,
    # out, ...) and fit's own forms of eval_epochs and checkpoint_every
    settings = {f.name for f in dataclasses.fields(TrainConfig)} - {
        "eval_epochs", "checkpoint_every"}
    assert (config.beta, config.tau_plus, config.epochs) == (1.0, 0.5, 200)
    two_views = TrainConfig(objective="infonce")
    assert two_views.tau_plus == 0.1  # the two-view grid's and the guide's
    checked = 0
    from hngraph.eval.scoring import svm_accuracy
    from hngraph.nn.encoders import GINEncoder
    from hngraph.nn.losses import make_weighting, negative_weights
    for entry in (InfoGraph, GraphCL, JSDLocalGlobalLoss, HardInfoNCELoss,
                  jsd_local_global, hard_infonce, fit, GINEncoder,
                  make_weighting, negative_weights, svm_accuracy):
        views = entry in (GraphCL, HardInfoNCELoss, hard_infonce)
        for name, p in inspect.signature(entry).parameters.items():
            if name in settings and p.default is not p.empty:
                assert p.default == getattr(two_views if views else config,
                                            name), (entry, name)
                checked += 1
    assert checked >= 36
    assert InfoGraph(3).criterion.weighting.beta == 1.0
    assert InfoGraph(3, beta=0, tau_plus=0).criterion.weighting.tau_plus == 0


def test_no_library_module_reads_the_run_configuration():
    """The layers below the runs (data, nn, train, eval) declare their own
    defaults: none imports TrainConfig, whose defaults the test above holds
    equal to theirs."""
    import ast
    from pathlib import Path

    import hngraph
    package = Path(hngraph.__file__).parent
    for layer in ("data", "nn", "train", "eval"):
        for path in (package / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and \
                        node.module.endswith("config"):
                    names = {a.name for a in node.names}
                    assert "TrainConfig" not in names, path
                    assert "default" not in names, path


def test_numpy_scalars_pass_as_numbers_and_are_stored_as_python_ones(
        data_root):
    """A grid of settings built with NumPy passes (numbers.Integral and
    numbers.Real, as scikit-learn checks them); bools never do; the values
    are stored as int and float, so results stay JSON."""
    import json

    from hngraph import load_tudataset
    config = TrainConfig(dataset="MUTAG", epochs=np.int64(3),
                         lr=np.float32(0.5), eval_epochs=[np.int32(1)],
                         chunk_size=np.int64(64), beta=np.int8(2))
    assert [type(v) for v in (config.epochs, config.lr, config.beta,
                              config.eval_epochs[0], config.chunk_size)] == \
        [int, float, float, int, int]
    json.dumps(config.to_dict())
    model = InfoGraph(np.int64(7), hidden=np.int64(8), layers=np.uint8(2))
    assert json.dumps(model.config) and model.config["in_dim"] == 7
    fit(model, load_tudataset("MUTAG"), epochs=np.int64(1),
        batch_size=np.int64(64), seed=np.int64(0), device="cpu",
        progress=False)
    for bad in (np.bool_(True), True):
        with pytest.raises(TypeError, match="'epochs' must be an integer"):
            TrainConfig(epochs=bad)
    with pytest.raises(TypeError, match=r"encoder must be an integer in "
                       r"\[1, 1048576\), got True"):
        InfoGraph(True)
    with pytest.raises(ValueError, match=r"encoder must be an integer in "
                       r"\[1, 1048576\), got np.int64\(0\)"):
        InfoGraph(np.int64(0))


def test_no_module_below_the_cli_checks_against_a_config_field():
    # Functions declare their own parameters' constraints; only the config
    # and the command line check against TrainConfig's fields.
    import ast
    from pathlib import Path

    import hngraph
    callers = []
    for path in Path(hngraph.__file__).parent.rglob("*.py"):
        if path.name in ("config.py", "cli.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id in (
                    "check_setting", "check_field", "_FIELDS"):
                callers.append(f"{path.name}: {node.id}")
    assert not callers


def _fit(**kw):
    return fit(InfoGraph(2), [_graph()] * 4, **{"progress": False, **kw})


def _augment(**kw):
    return augment_batch(**{"name": "node_drop", "ratio": 0.1, **kw},
                         batch=Batch.from_data_list([_graph()] * 2))


@pytest.mark.parametrize("declared,call,where", [
    (FIT_PARAMS, _fit, "fit: "), (AUGMENT_PARAMS, _augment, "")],
    ids=["fit", "augment_batch"])
def test_each_declared_parameter_is_named_as_the_caller_passed_it(
        declared, call, where):
    for name, constraint in declared.items():
        bad = constraint.invalid()
        with pytest.raises((TypeError, ValueError)) as err:
            call(**{name: bad})
        assert str(err.value).startswith(
            f"{where}{name} must be {constraint}, got {bad!r}"), name


def test_fit_takes_numpy_numbers():
    history = fit(InfoGraph(np.int64(2), hidden=np.int64(4),
                            layers=np.uint8(1)), [_graph()] * 4,
                  epochs=np.int64(1), batch_size=np.int32(2),
                  lr=np.float32(0.01), seed=np.uint16(3), progress=False)
    assert len(history["loss"]) == 1


def _graph():
    return Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1, 1, 2],
                                                          [1, 0, 2, 1]]))


def test_every_declared_constraint_rejects_its_own_invalid_value():
    """``invalid()`` drives the rejection tests: a value it returns that
    the constraint accepts would make them test nothing."""
    from hngraph.eval.scoring import SVM_PARAMS
    from hngraph.nn.losses import INFONCE_PARAMS, JSD_PARAMS, WEIGHT_PARAMS
    from hngraph.nn.models import GRAPHCL_PARAMS, INFOGRAPH_PARAMS
    declared = [FIT_PARAMS, AUGMENT_PARAMS, SVM_PARAMS, INFONCE_PARAMS,
                JSD_PARAMS, WEIGHT_PARAMS, GRAPHCL_PARAMS, INFOGRAPH_PARAMS,
                {f.name: f.metadata["constraint"] for f in SETTINGS}]
    for params in declared:
        for name, constraint in params.items():
            assert not constraint.accepts(constraint.invalid()), name


def test_validate_params_runs_the_function_on_the_checked_values():
    """The declaration is bound to the signature: defaults are checked
    too, the function sees the values as stored (an int given for a float
    is a float; a renamed choice is its new name), and a constraint that
    names no parameter is refused when the function is defined."""
    from hngraph.constraints import Interval, validate_params
    from hngraph.errors import InvalidValueError

    renamed = Options(("new", "other"), renamed={"old": "new"})

    @validate_params({"x": Interval(float, 0), "mode": renamed}, where="f: ")
    def f(data, *, x=2, mode="other"):
        return data, x, mode

    assert f("d") == ("d", 2.0, "other")
    assert type(f("d")[1]) is float
    with pytest.warns(FutureWarning, match="f: mode: 'old' is renamed"):
        assert f("d", x=3, mode="old") == ("d", 3.0, "new")
    with pytest.raises(InvalidValueError, match=r"^f: x must be .*, got -1"):
        f("d", x=-1)

    @validate_params({"x": Interval(float, 0)})
    def g(*, x=-1.0):
        return x
    with pytest.raises(InvalidValueError, match="x must be"):  # its default
        g()
    with pytest.raises(TypeError, match=r"h has no parameter\(s\) \['y'\]"):
        @validate_params({"y": Interval(float, 0)})
        def h(x):
            return x
    assert inspect.signature(f) == inspect.signature(f.__wrapped__)
