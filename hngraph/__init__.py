"""hngraph: self-supervised graph representation learning with hard
negatives (InfoGraph's local-global contrast re-weighted as in Robinson et
al., ICLR 2021).

The public names are imported on first use, so that ``hngraph --help`` and
the configuration do not wait for torch.
"""
from importlib import import_module

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_EXPORTS = {"TrainConfig": "config", "GraphDataset": "data.tudataset",
            "load_tudataset": "data.tudataset", "embed": "eval.embedding",
            "GINEncoder": "nn.encoders", "svm_accuracy": "eval.scoring",
            "select_embeddings": "eval.scoring",
            "select_results": "eval.scoring", "GridConfig": "runs.grid",
            "augment_batch": "data.augment",
            "hard_infonce": "nn.losses", "jsd_local_global": "nn.losses",
            "JSDLocalGlobalLoss": "nn.losses",
            "HardInfoNCELoss": "nn.losses", "GraphCL": "nn.models",
            "InfoGraph": "nn.models", "ProjectionHead": "nn.models",
            "load_model": "nn.models", "fit": "train.loop",
            "seed_everything": "train.loop"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hngraph' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])
