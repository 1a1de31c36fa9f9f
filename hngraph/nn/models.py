r"""Self-supervised graph models: InfoGraph with hard-negative local-global
contrast, and GraphCL-style two-view InfoNCE (``docs/method.md``).

Both take any encoder: a module that maps ``(x [N, F], edge_index [2, E])``
to node embeddings ``[N, D]`` and names ``D`` in ``out_channels`` (as
PyG's ``GCN``, ``GAT`` and the other models of
``torch_geometric.nn.models``) or ``out_dim`` (as :class:`GINEncoder`).
A graph's embedding is the sum pool of its nodes'. Given a node feature
width instead, a model builds the default encoder, a
:class:`GINEncoder` of ``hidden`` x ``layers``.

The protocol that :func:`~hngraph.train.loop.fit`,
:func:`~hngraph.eval.scoring.svm_accuracy`'s callers and
:func:`~hngraph.eval.embedding.embed` rely on is :class:`GraphModel`'s:
``loss(batch)``, a scalar to minimise for one PyG mini-batch, and
``embed(loader)``, the graph embeddings and labels of a loader.
"""
from __future__ import annotations

import inspect
import os

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import global_add_pool

from ..config import user_path
from ..constraints import (
    AUGMENTATION,
    BETA,
    CHUNK_SIZE,
    DEVICE,
    GAMMA,
    HIDDEN,
    INIT,
    LAYERS,
    PRIOR,
    RATIO,
    REWEIGHT,
    TAU_PLUS,
    TEMPERATURE,
    WIDTH,
    Either,
    Nullable,
    OfType,
    check,
    validate_params,
)
from ..data.augment import augment_batch
from ..distributed import resolve_device
from ..errors import (
    HngraphError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
)
from ..plugins import build_module, import_path
from ..registry import OBJECTIVES
from ..results import atomic_torch_save
from .encoders import GINEncoder
from .losses import (
    INFONCE_TAU_PLUS,
    JSD_TAU_PLUS,
    HardInfoNCELoss,
    JSDLocalGlobalLoss,
)

CHECKPOINT_FORMAT = "hngraph-model-1"


#: The parameters of :func:`load_model` and :meth:`GraphModel.load`
#: (beside ``path``): a device (a name such as ``"cpu"``, or a
#: ``torch.device``) or a mapping of devices, and an encoder module or None.
LOAD_PARAMS = {"map_location": Either(DEVICE, OfType(torch.device,
                                                     "a torch.device"),
                                      OfType(dict)),
               "encoder": Nullable(OfType(nn.Module, "an encoder module"))}


#: The parameters of :class:`ProjectionHead`.
PROJECTION_PARAMS = {"dim": WIDTH}


class _Head(nn.Module):
    """What the heads share: their width ``dim``, shown by ``print``, and
    ``reset_parameters``, each linear layer's own initialisation."""

    dim: int

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ProjectionHead(_Head):
    r"""InfoGraph's projection: a 3-layer ReLU MLP plus a linear shortcut.

    .. math:: f(x) = \mathrm{ReLU}(W_3\,\mathrm{ReLU}(W_2\,\mathrm{ReLU}(W_1 x)))
              + W_s x

    Shapes: ``[*, dim] -> [*, dim]``.
    """

    @validate_params(PROJECTION_PARAMS)
    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(),
            nn.Linear(dim, dim), nn.ReLU(),
            nn.Linear(dim, dim), nn.ReLU())
        self.shortcut = nn.Linear(dim, dim)
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


class PriorDiscriminator(_Head):
    r"""InfoGraph's prior matching: tells uniform noise from graph embeddings.

    Shapes: ``[G, dim] -> [G]`` probabilities.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(),
                                 nn.Linear(dim, dim), nn.ReLU(),
                                 nn.Linear(dim, 1))
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.net(x)).squeeze(-1)


def encoder_width(encoder: nn.Module) -> int:
    """The width ``D`` of an encoder's node embeddings: its ``out_dim``
    (:class:`GINEncoder`) or ``out_channels`` (PyG's models)."""
    width = getattr(encoder, "out_dim", None) or getattr(
        encoder, "out_channels", None)
    if not WIDTH.accepts(width):
        raise InvalidValueError(
            f"encoder {type(encoder).__name__} names no embedding width: "
            "give it an out_channels (or out_dim) attribute, the width of "
            "the node embeddings it returns.")
    return int(width)


def _check_encoder_output(encoder: nn.Module, out, nodes: int,
                          width: int) -> None:
    """An encoder's output must be node embeddings: a floating tensor
    ``[nodes, width]``; the error names the encoder and what came back."""
    if isinstance(out, torch.Tensor):
        got = f"a {out.dtype} tensor of shape {list(out.shape)}"
        if out.is_floating_point() and tuple(out.shape) == (nodes, width):
            return
    else:
        got = f"a {type(out).__name__}"
    raise InvalidValueError(
        f"encoder {type(encoder).__name__} returned {got} for a batch of "
        f"{nodes} nodes; an encoder must return the node embeddings, a "
        f"floating tensor [{nodes}, {width}] ({width}: its out_channels or "
        "out_dim). Return that tensor from its forward(x, edge_index).")


class GraphModel(nn.Module):
    """What every hngraph model shares: an encoder in ``self.encoder`` (see
    the module's description), a ``config`` dict of its constructor's
    arguments, graph embeddings (the sum pool of the node embeddings), and
    model files that restore it with its feature recipe.

    Subclasses implement ``loss(batch)``; ``embed(loader)`` is shared."""

    encoder: nn.Module
    config: dict
    #: How node features are built (``GraphDataset.feature_recipe``);
    #: saved with the weights so that new graphs get the same features.
    feature_recipe: dict | None = None
    #: Contrast against the graphs of every process of a ``torch.distributed``
    #: group (set by :func:`hngraph.distributed.wrap`, which ``fit`` calls).
    distributed: bool = False
    #: How to build an encoder passed in again, ``{"args": [...], "kwargs":
    #: {...}}`` for its class, where its builder knows (a run's config
    #: does); saved so that :meth:`load` rebuilds it. ``None``: with no
    #: arguments.
    encoder_call: dict | None = None

    def _set_encoder(self, encoder, settings: dict) -> int:
        """``self.encoder`` and ``self.config`` from a constructor's first
        argument and checked ``settings``: an encoder module, kept as given,
        or a node feature width, for the default :class:`GINEncoder` of
        ``hidden`` x ``layers``; returns the embedding width."""
        shape = {k: settings.pop(k) for k in ("hidden", "layers")
                 if k in settings}
        if isinstance(encoder, nn.Module):
            defaults = inspect.signature(type(self)).parameters
            if shape != {k: defaults[k].default for k in shape}:
                raise InvalidValueError(
                    "hidden and layers shape the default GIN encoder; with "
                    f"an encoder module ({type(encoder).__name__}) they do "
                    "not apply: leave them out.")
            self.encoder, self.own_encoder = encoder, False
            self._checked = False
            self.config = {"encoder": type(encoder).__name__, **settings}
            return encoder_width(encoder)
        self.config = {"in_dim": check(
            WIDTH, encoder, "encoder", "Give an encoder module, or the "
            "node feature width for the default GIN."), **shape, **settings}
        self.encoder = GINEncoder(self.config["in_dim"], **shape)
        self.own_encoder = True
        return self.encoder.out_dim

    def reset_parameters(self, init: str = "xavier",
                         encoder: bool = True) -> None:
        """Initialise every layer: ``"xavier"``, Xavier-uniform weights and
        zero biases for every ``Linear`` (as the published InfoGraph and
        GraphCL codes), or ``"default"``, each layer's own initialisation
        (PyTorch's Kaiming-uniform for ``Linear``, as a model built with PyG
        layers starts); batch norms start at unit scale and zero shift. An
        encoder passed to the model is reset by its own
        ``reset_parameters``, where it has one, and only with ``encoder``
        (a model's construction leaves it as given)."""
        init = check(INIT, init, "reset_parameters: init")
        if not self.own_encoder and encoder and hasattr(
                self.encoder, "reset_parameters"):
            self.encoder.reset_parameters()
        passed = set() if self.own_encoder else set(self.encoder.modules())
        for m in self.modules():
            if m in passed:
                continue
            if isinstance(m, nn.Linear) and init == "xavier":
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.Linear, nn.BatchNorm1d)):
                m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        """Graph embeddings ``[G, D]``, the sum pools of the encoder's node
        embeddings (not projected). ``num_graphs`` defaults to
        ``batch.max() + 1``, which waits for the device."""
        return self.encode(x, edge_index, batch, num_graphs)[0]

    def encode(self, x: Tensor, edge_index: Tensor,
               batch: Tensor | None = None, num_graphs: int | None = None
               ) -> tuple[Tensor, Tensor]:
        """``(graph_emb [G, D], node_emb [N, D])`` of a batch. The first
        output of an encoder passed in is checked against that contract."""
        node_emb = self.encoder(x, edge_index)
        if not self.own_encoder and not self._checked:
            _check_encoder_output(self.encoder, node_emb, x.size(0),
                                  encoder_width(self.encoder))
            self._checked = True
        if batch is None:
            batch, num_graphs = x.new_zeros(x.size(0), dtype=torch.long), 1
        return global_add_pool(node_emb, batch, num_graphs), node_emb

    @torch.no_grad()
    def embed(self, loader, device: torch.device | str | None = None
              ) -> tuple[np.ndarray, np.ndarray | None]:
        """Graph embeddings of every graph of a loader, in eval mode.

        Returns ``(embeddings [num_graphs, D], labels [num_graphs] or
        None)`` as NumPy arrays, in the loader's order (``D`` the
        encoder's width; ``L*d`` for the default GIN).
        """
        was_training = self.training
        self.eval()
        device = device or next(self.parameters()).device
        embs, labels = [], []
        for data in loader:
            data = data.to(device)
            embs.append(self(data.x, data.edge_index, data.batch,
                             data.num_graphs).cpu())
            if getattr(data, "y", None) is not None:
                labels.append(data.y.view(-1).cpu())
        self.train(was_training)
        emb = torch.cat(embs).numpy()
        return emb, (torch.cat(labels).numpy() if labels else None)

    def save(self, path: str | os.PathLike) -> None:
        """Save weights, config and feature recipe (atomically) to the
        model file ``path`` (a file, not a folder)."""
        path = user_path(path, "the model file", kind="file")
        atomic_torch_save({"format": CHECKPOINT_FORMAT,
                           "class": type(self).__name__,
                           "class_path": None if type(self).__name__ in MODELS
                           else import_path(type(self)),
                           "config": self.config,
                           "encoder_path": None if self.own_encoder else
                           import_path(type(self.encoder)),
                           "encoder_call": self.encoder_call,
                           "feature_recipe": self.feature_recipe,
                           "state_dict": self.state_dict()}, path)

    @classmethod
    @validate_params(LOAD_PARAMS)
    def load(cls, path: str | os.PathLike, map_location="cpu",
             encoder: nn.Module | None = None):
        """A model saved by :meth:`save`, in eval mode. A model built on an
        encoder module is restored into ``encoder``, a new module of the
        same architecture; left out, the encoder's class is imported from
        the path the file records (``module:qualname``) and built with the
        arguments it records (:attr:`encoder_call`), else with none, where
        it can be. A model trained with a loss passed in
        comes back with the default loss in its place (embedding needs no
        loss; pass the loss to a new model to train on). Weights that are
        not finite are refused, naming the file."""
        ckpt = _read_model_file(path, map_location)
        broken = [k for k, v in ckpt["state_dict"].items()
                  if torch.is_tensor(v) and v.is_floating_point()
                  and not torch.isfinite(v).all()]
        if broken:
            raise InvalidValueError(
                f"{path} holds weights that are not finite (NaN or inf) in "
                f"{broken[:3]}{' and more' if len(broken) > 3 else ''}: the "
                "training that wrote it diverged. Train again (a smaller lr "
                "or beta), or load an earlier model file.")
        if cls is not GraphModel and ckpt["class"] != cls.__name__:
            raise InvalidValueError(f"{path} holds a {ckpt['class']} model, not a "
                                    f"{cls.__name__}; load it with "
                                    f"{ckpt['class']}.load or hngraph.load_model.")
        config = dict(ckpt["config"])
        name = config.pop("encoder", None)
        if name is None and encoder is not None:
            raise InvalidValueError(
                f"{path} holds a model of the default GIN encoder, which it "
                "builds itself: leave encoder out.")
        if name is not None and encoder is None:
            encoder = _rebuilt_encoder(path, name, ckpt.get("encoder_path"),
                                       ckpt.get("encoder_call"))
        first = encoder if name else config.pop("in_dim")
        # a loss passed in is not needed to embed: the default one stands in
        weights = ckpt["state_dict"]
        if config.pop("loss", None) is not None:
            weights = {k: v for k, v in weights.items()
                       if not k.startswith("criterion.")}
        model = _model_class(path, ckpt)(first, **config)
        _check_weights_fit(path, name, model, weights)
        model.load_state_dict(weights)
        model.feature_recipe = ckpt["feature_recipe"]
        model.encoder_call = ckpt.get("encoder_call")
        return model.eval()


def _chosen_loss(loss, settings: dict, names: tuple, default_loss: type
                 ) -> nn.Module:
    """``loss`` if one is passed in (the default loss's settings ``names``
    then left at their defaults; ``settings``, the model's record, names
    the loss's class in their place), else ``default_loss`` of those
    settings."""
    own = {k: settings[k] for k in names}
    if loss is None:
        return default_loss(**own)
    loss = check(LOSS, loss, "loss")
    changed = [k for k, v in own.items() if v != _DEFAULTS[default_loss][k]]
    if changed:
        raise InvalidValueError(
            f"{', '.join(changed)} set the default loss, but loss="
            f"{type(loss).__name__}(...) is passed in: leave "
            f"{' and '.join(changed)} out (the loss holds its own settings).")
    for k in names:
        del settings[k]
    settings["loss"] = import_path(type(loss)) or type(loss).__name__
    return loss


#: A loss passed to a model: any torch module.
LOSS = Nullable(OfType(nn.Module, "a torch module (a loss)"))
#: The defaults of the losses' settings, as their signatures give them.
_DEFAULTS = {cls: {k: p.default for k, p in inspect.signature(
    cls).parameters.items()} for cls in (JSDLocalGlobalLoss, HardInfoNCELoss)}


def _declared(params: dict, arguments: dict) -> dict:
    """The arguments (a constructor's ``locals()``, checked by
    :func:`~hngraph.constraints.validate_params`) of the parameters
    ``params`` declares: the settings a model records."""
    return {k: arguments[k] for k in params}


#: The parameters of :class:`InfoGraph` (beside ``encoder``).
INFOGRAPH_PARAMS = {"hidden": HIDDEN, "layers": LAYERS, "beta": BETA,
                    "tau_plus": TAU_PLUS, "reweight": REWEIGHT,
                    "prior": PRIOR, "gamma": GAMMA,
                    "chunk_size": CHUNK_SIZE, "init": INIT}
#: The parameters of :class:`GraphCL` (beside ``encoder``).
GRAPHCL_PARAMS = {"hidden": HIDDEN, "layers": LAYERS, "beta": BETA,
                  "tau_plus": TAU_PLUS, "temperature": TEMPERATURE,
                  "reweight": REWEIGHT, "aug1": AUGMENTATION,
                  "aug2": AUGMENTATION, "aug_ratio": RATIO, "init": INIT}


class InfoGraph(GraphModel):
    r"""GIN encoder trained by local-global contrast with hard negatives:
    InfoGraph (Sun et al., ICLR 2020, <https://arxiv.org/abs/1908.01000>)
    with the negatives of Robinson et al. (ICLR 2021,
    <https://arxiv.org/abs/2010.04592>).

    ``loss(batch)`` is :func:`~hngraph.nn.losses.jsd_local_global` on the
    projected node and graph embeddings, plus, with ``prior=True``,
    InfoGraph's prior term
    :math:`-\gamma\,[\log D(u) + \log(1 - D(H))]` with :math:`u \sim U[0,1)`.
    ``beta=0, tau_plus=0`` is InfoGraph itself.

    Args:
        encoder: the encoder (see the module's description), or the node
            feature width, for the default GIN of ``hidden`` x ``layers``.
        hidden, layers: the default GIN's width ``d`` and number of layers
            ``L`` (only with a node feature width).
        loss: the loss passed in, a module called as
            ``loss(node_emb, graph_emb, batch, distributed=False)`` on the
            projected embeddings (as
            :class:`~hngraph.nn.losses.JSDLocalGlobalLoss`, for example with
            a weighting of your own); left out, the
            :class:`~hngraph.nn.losses.JSDLocalGlobalLoss` of the settings
            below.
        beta, tau_plus, reweight, chunk_size: the default loss's settings
            (see :class:`~hngraph.nn.losses.JSDLocalGlobalLoss`).
        prior: add InfoGraph's prior matching term.
        gamma: weight of the prior term.
        init: weight initialisation, ``"xavier"`` or ``"default"`` (see
            :meth:`~GraphModel.reset_parameters`).
    """

    @validate_params(INFOGRAPH_PARAMS)
    def __init__(self, encoder: nn.Module | int, *,
                 loss: nn.Module | None = None,
                 hidden: int = 32,
                 layers: int = 3,
                 beta: float = 1.0,
                 tau_plus: float = JSD_TAU_PLUS,
                 reweight: str = "paper",
                 prior: bool = False,
                 gamma: float = 0.1,
                 chunk_size: int | None = None,
                 init: str = "xavier"):
        super().__init__()
        settings = _declared(INFOGRAPH_PARAMS, locals())
        self.criterion = _chosen_loss(
            loss, settings, ("beta", "tau_plus", "reweight", "chunk_size"),
            JSDLocalGlobalLoss)
        self.gamma = gamma
        dim = self._set_encoder(encoder, settings)
        self.local_head = ProjectionHead(dim)
        self.global_head = ProjectionHead(dim)
        self.prior_d = PriorDiscriminator(dim) if prior else None
        self.reset_parameters(init, encoder=False)

    def loss(self, data) -> Tensor:
        """Training loss of one PyG mini-batch (``Batch``) of >= 2 graphs."""
        graph_emb, node_emb = self.encode(data.x, data.edge_index, data.batch,
                                          data.num_graphs)
        loss = self.criterion(self.local_head(node_emb),
                              self.global_head(graph_emb), data.batch,
                              distributed=self.distributed)
        if self.prior_d is not None:
            noise = torch.rand_like(graph_emb)
            eps = 1e-12
            term_a = torch.log(self.prior_d(noise) + eps).mean()
            term_b = torch.log(1.0 - self.prior_d(graph_emb) + eps).mean()
            loss = loss - self.gamma * (term_a + term_b)
        return loss


class GraphCL(GraphModel):
    r"""GIN encoder trained on two augmented views with hard InfoNCE:
    GraphCL (You et al., NeurIPS 2020, <https://arxiv.org/abs/2010.13902>)
    with the negatives of Robinson et al. (ICLR 2021).

    Each graph of a batch is augmented twice (``aug1``, ``aug2``, see
    :mod:`hngraph.data.augment`), on the batch's device; both views are encoded, projected by a
    Linear-ReLU-Linear head and contrasted with
    :func:`~hngraph.nn.losses.hard_infonce`, the other graphs' views being the
    negatives. ``beta=0, tau_plus=0`` is GraphCL's NT-Xent.

    Args:
        encoder: the encoder (see the module's description), or the node
            feature width, for the default GIN of ``hidden`` x ``layers``.
        hidden, layers: the default GIN's width ``d`` and number of layers
            ``L`` (only with a node feature width).
        loss: the loss passed in, a module called as
            ``loss(z1, z2, distributed=False)`` on the projected views (as
            :class:`~hngraph.nn.losses.HardInfoNCELoss`); left out, the
            :class:`~hngraph.nn.losses.HardInfoNCELoss` of the settings
            below.
        beta, tau_plus, temperature, reweight: the default loss's settings
            (see :class:`~hngraph.nn.losses.HardInfoNCELoss`).
        aug1, aug2: augmentation names (``node_drop``, ``edge_perturb``,
            ``feature_mask``, ``subgraph``).
        aug_ratio: the augmentations' ratio.
        init: weight initialisation, ``"xavier"`` or ``"default"`` (see
            :meth:`~GraphModel.reset_parameters`).
    """

    @validate_params(GRAPHCL_PARAMS)
    def __init__(self, encoder: nn.Module | int, *,
                 loss: nn.Module | None = None,
                 hidden: int = 32,
                 layers: int = 3,
                 beta: float = 1.0,
                 tau_plus: float = INFONCE_TAU_PLUS,
                 temperature: float = 0.5,
                 reweight: str = "paper",
                 aug1: str = 'node_drop', aug2: str = 'node_drop',
                 aug_ratio: float = 0.2,
                 init: str = "xavier"):
        super().__init__()
        settings = _declared(GRAPHCL_PARAMS, locals())
        self.criterion = _chosen_loss(
            loss, settings, ("beta", "tau_plus", "temperature", "reweight"),
            HardInfoNCELoss)
        self.augs, self.aug_ratio = (aug1, aug2), aug_ratio
        dim = self._set_encoder(encoder, settings)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(),
                                  nn.Linear(dim, dim))
        self.reset_parameters(init, encoder=False)

    def views(self, data) -> tuple[Batch, Batch]:
        """Two augmented views of every graph of a mini-batch, drawn on its
        device from torch's default generator
        (:func:`~hngraph.data.augment.augment_batch`)."""
        return tuple(augment_batch(aug, data, ratio=self.aug_ratio)
                     for aug in self.augs)

    def loss(self, data) -> Tensor:
        """Training loss of one PyG mini-batch of >= 2 graphs."""
        z = [self.head(self(v.x, v.edge_index, v.batch, v.num_graphs))
             for v in self.views(data)]
        return self.criterion(z[0], z[1], distributed=self.distributed)


class Pooled(GraphModel):
    """A bare encoder's graph embeddings, the sum pools of its node
    embeddings, for :meth:`~GraphModel.embed` (no loss: nothing to train).

    Args:
        encoder: the encoder (see the module's description).
    """

    def __init__(self, encoder: nn.Module):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise InvalidTypeError(f"encoder must be a torch module, got "
                                   f"{type(encoder).__name__}.")
        self._set_encoder(encoder, {})


MODELS = {"InfoGraph": InfoGraph, "GraphCL": GraphCL, "Pooled": Pooled}


def load_model(path: str | os.PathLike, *, map_location="cpu",
               encoder: nn.Module | None = None) -> GraphModel:
    """Any hngraph model saved with ``model.save(path)`` (see
    :meth:`GraphModel.load` for ``encoder``)."""
    return GraphModel.load(path, map_location, encoder)


def _rebuilt_encoder(path, name: str, spec: str | None,
                     call: dict | None) -> nn.Module:
    """A new encoder of the class a model file records (``spec``, its
    import path), built with the arguments it records (``call``, see
    :attr:`GraphModel.encoder_call`), else with none; the error says how to
    give one where that cannot be done."""
    how = (f"pass encoder=, a new {name} of the same architecture (Python), "
           "or --encoder MODULE:CALLABLE, a class or function that builds "
           "one with no arguments (hngraph embed).")
    if spec is None:
        raise InvalidValueError(f"{path} holds a model of a {name} encoder, "
                                f"whose class it cannot import: {how}")
    try:
        return build_module(spec, f"{path}: its {name} encoder",
                            **(call or {}))
    except HngraphError as err:
        raise InvalidValueError(f"{err} Or {how}") from None


def _shape(weight) -> str | list:
    """A weight's shape as an error shows it ("absent" for a missing one)."""
    return "absent" if weight is None else list(getattr(weight, "shape", []))


def _check_weights_fit(path, name: str | None, model: nn.Module,
                       weights: dict) -> None:
    """The saved ``weights`` must have the model's names and shapes; the
    first that does not is named (an encoder of another architecture)."""
    own = model.state_dict()
    for key in sorted(set(own) | set(weights)):
        there, here = weights.get(key), own.get(key)
        if there is None or here is None or (
                torch.is_tensor(there) and there.shape != here.shape):
            raise InvalidValueError(
                f"{path}: its weights do not fit the {name or 'GIN'} encoder "
                f"given ({key}: {_shape(there)} in the file, {_shape(here)} in "
                f"the model); give a new {name or 'encoder'} of the "
                "architecture the model was trained with.")


def _read_model_file(path, map_location) -> dict:
    if isinstance(map_location, str):  # a device that is not here is named
        try:
            map_location = resolve_device(map_location)
        except HngraphError as err:
            raise InvalidValueError(f"map_location: {err}") from err
    path = user_path(path, "the model file", kind="file")
    if not os.path.isfile(path):
        raise MissingFileError(f"model file {path} does not exist.")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated, not a torch file (a JSON result)
        raise InvalidValueError(
            f"{path} cannot be read as an hngraph model file "
            f"({type(err).__name__}); give the .pt file that `hngraph "
            "train` writes beside its JSON result (or model.save).") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InvalidValueError(f"{path} is not an hngraph model file (write "
                                "one with model.save(path) or `hngraph train`).")
    if ckpt.get("class") not in MODELS and not ckpt.get("class_path"):
        raise InvalidValueError(
            f"{path} holds a model of class {ckpt.get('class')!r}, which this "
            f"version of hngraph does not know (it knows {', '.join(MODELS)}); "
            "load it with the hngraph version that saved it.")
    return ckpt


def _model_class(path, ckpt: dict) -> type:
    """The model class a model file records: one of hngraph's, or a
    :class:`GraphModel` of the user's own, imported from its import path
    and checked as the ``objective`` setting checks one."""
    if ckpt["class"] in MODELS:
        return MODELS[ckpt["class"]]
    return OBJECTIVES.load(ckpt["class_path"], f"{path}: its model class")


#: The public names (the API reference lists these).
__all__ = ["GraphModel", "InfoGraph", "GraphCL", "ProjectionHead",
           "PriorDiscriminator", "Pooled", "load_model", "encoder_width"]
