"""hngraph: self-supervised graph representation learning with hard
negatives (InfoGraph's local-global contrast re-weighted as in Robinson et
al., ICLR 2021)."""
from .config import TrainConfig
from .data import GraphDataset, load_tudataset
from .embedding import embed
from .encoders import GINEncoder
from .evaluation import svm_accuracy
from .losses import hard_infonce, jsd_local_global
from .models import GraphCL, InfoGraph, load_model
from .training import fit, seed_everything

__version__ = "0.1.0"

__all__ = ["GINEncoder", "InfoGraph", "GraphCL", "GraphDataset",
           "TrainConfig", "load_tudataset", "load_model", "embed",
           "svm_accuracy", "fit", "seed_everything", "jsd_local_global",
           "hard_infonce"]
