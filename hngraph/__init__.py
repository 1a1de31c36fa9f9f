"""hngraph: self-supervised graph representation learning with hard
negatives (InfoGraph's local-global contrast re-weighted as in Robinson et
al., ICLR 2021).

The public names are imported on first use, so that ``hngraph --help`` and
the configuration do not wait for torch.
"""
from importlib import import_module

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_EXPORTS = {"TrainConfig": "config", "GraphDataset": "data",
            "load_tudataset": "data", "embed": "embedding",
            "GINEncoder": "encoders", "svm_accuracy": "evaluation",
            "select_embeddings": "evaluation",
            "select_results": "evaluation", "GridConfig": "grid",
            "augment_batch": "augment",
            "hard_infonce": "losses", "jsd_local_global": "losses",
            "JSDLocalGlobalLoss": "losses", "HardInfoNCELoss": "losses",
            "GraphCL": "models", "InfoGraph": "models",
            "ProjectionHead": "models",
            "load_model": "models", "fit": "training",
            "seed_everything": "training"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hngraph' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])
