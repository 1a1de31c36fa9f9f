r"""GIN encoder in the InfoGraph layout (Sun et al., ICLR 2020,
<https://arxiv.org/abs/1908.01000>; see ``docs/method.md``), the default
encoder of hngraph's models, which take any encoder of the same form."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINConv

from ..constraints import HIDDEN, LAYERS, WIDTH, validate_params
from ..errors import InvalidValueError

#: The parameters of :class:`GINEncoder`.
GIN_PARAMS = {"in_dim": WIDTH, "hidden": HIDDEN, "layers": LAYERS}


class GINEncoder(nn.Module):
    r"""Graph Isomorphism Network that returns node embeddings.

    Layer :math:`k = 1 \dots L`:

    .. math::
        h_k = \mathrm{BN}\big(\mathrm{ReLU}(\mathrm{GINConv}_k(h_{k-1}))\big),
        \qquad \mathrm{GINConv}_k(h)_i = \mathrm{MLP}_k\Big(h_i +
        \sum_{j \in \mathcal{N}(i)} h_j\Big)

    with :math:`\mathrm{MLP}_k` = Linear, ReLU, Linear. The node embedding is
    :math:`[h_1 \| \dots \| h_L]`, of width ``L * hidden``
    (:attr:`out_dim`). InfoGraph's graph embedding, the concatenation of the
    per-layer sum pools, is its sum pool
    (``torch_geometric.nn.global_add_pool``), which the models apply.

    Args:
        in_dim: node feature width.
        hidden: width ``d`` of every layer.
        layers: number of GIN layers ``L``.

    Shapes:
        input: ``x [N, in_dim]``, ``edge_index [2, E]``.
        output: ``node_emb [N, L*d]``.
    """

    @validate_params(GIN_PARAMS)
    def __init__(self, in_dim: int, *, hidden: int = 32, layers: int = 3):
        super().__init__()
        self.in_dim, self.hidden, self.layers = in_dim, hidden, layers
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for k in range(layers):
            mlp = nn.Sequential(nn.Linear(in_dim if k == 0 else hidden, hidden),
                                nn.ReLU(), nn.Linear(hidden, hidden))
            self.convs.append(GINConv(mlp))
            self.norms.append(nn.BatchNorm1d(hidden))

    @property
    def out_dim(self) -> int:
        return self.layers * self.hidden

    def reset_parameters(self) -> None:
        """Every layer's own initialisation drawn again (PyG's GINConv and
        PyTorch's defaults), batch norms at unit scale and zero shift."""
        for conv, norm in zip(self.convs, self.norms, strict=True):
            conv.reset_parameters()
            norm.reset_parameters()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_dim}, hidden={self.hidden},"
                f" layers={self.layers})")

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.in_dim:
            raise InvalidValueError(
                f"node features have shape {tuple(x.shape)}, but this encoder "
                f"expects [num_nodes, {self.in_dim}]. Build the features with "
                "the same recipe as at training time (see load_tudataset's "
                "'features' argument).")
        hs = []
        h = x
        for conv, norm in zip(self.convs, self.norms, strict=False):
            h = norm(torch.relu(conv(h, edge_index)))
            hs.append(h)
        return torch.cat(hs, dim=1)


#: The public names (the API reference lists these).
__all__ = ["GINEncoder"]
