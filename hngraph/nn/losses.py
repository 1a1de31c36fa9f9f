r"""Contrastive objectives with hard negatives (Robinson et al., ICLR 2021,
<https://arxiv.org/abs/2010.04592>; the formulas in ``docs/method.md``).

Two estimators are provided:

* :func:`jsd_local_global`: InfoGraph's Jensen-Shannon local-global estimator,
  with the negatives (the other graphs of the batch) re-weighted towards hard
  ones and debiased as in Robinson et al. (ICLR 2021).
* :func:`hard_infonce`: the graph-level two-view InfoNCE (NT-Xent) with the
  same re-weighting and debiasing.

Both weight their negatives with a weighting of :mod:`hngraph.nn.weighting`
(``weighting=``), or with the one that ``beta``, ``tau_plus`` and
``reweight`` name (:func:`make_weighting`), and both come as modules too
(:class:`JSDLocalGlobalLoss`, :class:`HardInfoNCELoss`), which check their
settings once, when built.

Both are vectorised: no Python loop over nodes or graphs, and no dense float
masks; masked entries never enter a mean, a maximum or a weight.
"""
from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..constraints import (
    BETA,
    CHUNK_SIZE,
    REWEIGHT,
    TAU_PLUS,
    TEMPERATURE,
    Nullable,
    OfType,
    check,
    validate_params,
)
from ..distributed import gather_graphs, global_max
from ..errors import InvalidTypeError, InvalidValueError
from ..registry import WEIGHTINGS
from .weighting import (
    UniformNegatives,
    argmax_abs_negative,
    max_abs_negative,
    tilted_softmax_,
)

LOG2 = math.log(2.0)

#: tau+'s default for the local-global loss (the verdict grid's), and for
#: the two-view loss (the two-view grid's and the guide's).
JSD_TAU_PLUS, INFONCE_TAU_PLUS = 0.5, 0.1


def _check_finite(name: str, tensor: Tensor) -> None:
    if not torch.isfinite(tensor).all():
        raise InvalidValueError(
            f"{name} contains NaN or inf values. Check the node features "
            "(for example with torch.isfinite(data.x).all()) and lower the "
            "learning rate if the values diverged during training.")


#: The dtypes a loss's tensor argument may have, and how an error names them.
_KINDS = {"float": (torch.is_floating_point, "a floating-point tensor"),
          "index": (lambda t: t.dtype in (torch.int64, torch.int32),
                    "an integer tensor (torch.long)"),
          "bool": (lambda t: t.dtype == torch.bool, "a boolean tensor")}


#: The parameters of :func:`negative_weights`.
WEIGHT_PARAMS = {"beta": BETA, "reweight": REWEIGHT}
#: The parameters of :func:`jsd_local_global` and :class:`JSDLocalGlobalLoss`.
JSD_PARAMS = {"beta": BETA, "tau_plus": TAU_PLUS, "reweight": REWEIGHT,
              "chunk_size": CHUNK_SIZE}
#: The parameters of :func:`hard_infonce` and :class:`HardInfoNCELoss`.
INFONCE_PARAMS = {"beta": BETA, "tau_plus": TAU_PLUS,
                  "temperature": TEMPERATURE, "reweight": REWEIGHT}


def _validated(params: dict, settings: dict, **tensors) -> dict:
    """A loss function's settings checked against its declaration
    ``params`` (and stored, :func:`~hngraph.constraints.check`), and
    each tensor argument, given as ``name=(value, kind, dims)``, checked to
    be a tensor of that kind (:data:`_KINDS`) with that many dimensions."""
    device = None
    for name, (value, kind, dims) in tensors.items():
        accepts, text = _KINDS[kind]
        if not isinstance(value, Tensor):
            raise InvalidTypeError(f"{name} must be {text}, got "
                                   f"{type(value).__name__}; convert it first, for "
                                   "example torch.as_tensor(x, dtype=torch.float).")
        if not accepts(value):
            raise InvalidTypeError(f"{name} must be {text}, got dtype {value.dtype}"
                                   f"; convert it with .float(), .long() or "
                                   ".bool() as the argument needs.")
        if value.dim() != dims:
            raise InvalidValueError(f"{name} must have {dims} dimension(s), got "
                                    f"shape {tuple(value.shape)}.")
        if value.device.type == "meta":
            raise InvalidValueError(f"{name} is a meta tensor, which holds "
                                    "no values; give a tensor with data.")
        if device is not None and value.device != device:
            raise InvalidValueError(
                f"{name} is on {value.device}, the tensors before it on "
                f"{device}; move them to one device (.to(device)).")
        device = value.device
    return {k: check(params[k], v, k) for k, v in settings.items()}


#: A weighting passed in (``weighting=``), or ``None`` for the one that
#: ``beta``, ``tau_plus`` and ``reweight`` name.
WEIGHTING = Nullable(OfType(UniformNegatives, "a negative weighting of "
                            "hngraph.nn.weighting (a UniformNegatives)"))


def make_weighting(*, beta: float = 1.0, tau_plus: float = JSD_TAU_PLUS,
                   reweight: str = "paper") -> UniformNegatives:
    """The weighting that ``reweight`` names (a name of
    :data:`hngraph.registry.WEIGHTINGS`: ``"paper"``,
    :class:`~hngraph.nn.weighting.HardNegatives`; ``"hcl-code"``,
    :class:`~hngraph.nn.weighting.HCLCodeNegatives`; ...), built with
    ``beta`` and ``tau_plus`` where it takes them (a setting it does not
    take must be 0)."""
    return WEIGHTINGS.build(reweight, {"beta": beta, "tau_plus": tau_plus},
                            "reweight")


def _chosen_weighting(weighting, owner, beta: float, tau_plus: float,
                      reweight: str) -> UniformNegatives:
    """``weighting`` if one is passed in (``beta``, ``tau_plus`` and
    ``reweight`` then left at the defaults of ``owner``'s signature), else
    :func:`make_weighting` of those three."""
    weighting = check(WEIGHTING, weighting, "weighting")
    if weighting is None:
        return make_weighting(beta=beta, tau_plus=tau_plus,
                              reweight=reweight)
    defaults = inspect.signature(owner).parameters
    given = [k for k, v in (("beta", beta), ("tau_plus", tau_plus),
                            ("reweight", reweight))
             if v != defaults[k].default]
    if given:
        raise InvalidValueError(
            f"{', '.join(given)} choose a weighting, but weighting="
            f"{type(weighting).__name__}(...) is passed in: leave "
            f"{' and '.join(given)} out (the weighting holds its own "
            "settings).")
    return weighting


def negative_weights(scores: Tensor, neg_mask: Tensor, *, beta: float = 1.0,
                     reweight: str = "paper") -> Tensor:
    r"""Importance weights of the negatives of each row of a score matrix,
    :math:`w_{ij}` of the weighting ``reweight`` names with ``beta`` (see
    :func:`make_weighting`; the formulas in :mod:`hngraph.nn.weighting`):
    ``paper`` gives :math:`e^{\beta s_{ij}} / \mathrm{mean}_{j'}
    e^{\beta s_{ij'}}`, ``hcl-code`` :math:`\propto e^{-2\beta s_{ij}/c}`.

    Args:
        scores: ``[R, C]`` scores.
        neg_mask: ``[R, C]`` boolean, ``True`` where the entry is a negative.
            Every row needs at least one negative.
        beta: concentration, ``>= 0``.
        reweight: a name of :data:`hngraph.registry.WEIGHTINGS`.

    Returns:
        ``[R, C]`` weights, zero on non-negative entries, mean 1 over each
            row's negatives.
    """
    beta, reweight = _validated(WEIGHT_PARAMS,
                                dict(beta=beta, reweight=reweight),
                                scores=(scores, "float", 2),
                                neg_mask=(neg_mask, "bool", 2)).values()
    weighting = make_weighting(beta=beta, tau_plus=0.0, reweight=reweight)
    return weighting.weights(scores, neg_mask)


def _negative_scale(node_emb: Tensor, graph_emb: Tensor, batch: Tensor,
                    chunk_size: int) -> Tensor:
    """``c`` of :func:`_max_abs_negative` over all rows, computed
    ``chunk_size`` rows at a time; differentiable."""
    best, where = -1.0, (0, 0)
    for start in range(0, node_emb.size(0), chunk_size):
        with torch.no_grad():
            s = node_emb[start:start + chunk_size] @ graph_emb.t()
        value, row, col = argmax_abs_negative(
            s, batch[start:start + chunk_size].view(-1, 1))
        if value.item() > best:
            best, where = value.item(), (start + int(row), int(col))
    return (node_emb[where[0]] @ graph_emb[where[1]]).abs()


#: Below ``SOFTPLUS_TAIL``, softplus is computed as ``exp`` (equal to under
#: 1e-11 relative), and above ``SOFTPLUS_HEAD`` as the identity (under 5e-18
#: apart): CPUs evaluate ``log1p`` of tiny arguments and ``exp`` of large
#: ones many times slower.
SOFTPLUS_TAIL, SOFTPLUS_HEAD = -25.0, 40.0


def _softplus_(x: Tensor) -> Tensor:
    """``softplus(x)`` of a large ``[N, G]`` score matrix, fast on CPUs
    (no autograd: in-place passes). Below ``SOFTPLUS_TAIL`` it is ``exp(x)``
    (``log1p(y) = y (1 - y/2 + ...)``), with ``x`` floored at ``-80`` since
    an ``exp`` that returns a subnormal float is slower still; above
    ``SOFTPLUS_HEAD`` it is ``x``."""
    edge = F.softplus(x.new_tensor(SOFTPLUS_TAIL))
    out = F.softplus(x.clamp(SOFTPLUS_TAIL, SOFTPLUS_HEAD), threshold=50.0)
    out += x.clamp(-80.0, SOFTPLUS_TAIL).exp_().sub_(edge)
    out += x.clamp(min=SOFTPLUS_HEAD).sub_(SOFTPLUS_HEAD)
    return out


class _TiltedSoftplusMean(torch.autograd.Function):
    r"""``m_i = sum_j p_ij sp(s_ij)`` with ``p_i`` the softmax of ``k s_i``
    over the row's negatives (every column but ``positive[i]``), by
    :func:`tilted_softmax_`.
    ``k = 0`` (uniform weights) takes a shortcut.

    The ``[N, G]`` work is a few in-place passes, and the backward is written
    out rather than taped op by op:

    .. math::
        \frac{\partial m_i}{\partial s_{ij}} = p_{ij}\big(\sigma(s_{ij})
        + k\,(\mathrm{sp}(s_{ij}) - m_i)\big), \qquad
        \frac{\partial m_i}{\partial k} = \sum_j p_{ij}\,
        (\mathrm{sp}(s_{ij}) - m_i)\, s_{ij}

    Shapes: ``scores [N, G]``, ``k`` a float or ``[]``, ``positive [N, 1]``
    -> ``[N]``.
    """

    @staticmethod
    def forward(ctx, scores: Tensor, k: float | Tensor, positive: Tensor
                ) -> Tensor:
        if isinstance(k, float) and k == 0.0:
            probs = torch.full_like(scores, 1.0 / (scores.size(1) - 1))
            probs.scatter_(1, positive, 0.0)
        else:
            probs = tilted_softmax_(scores * k, positive)
        softplus = _softplus_(scores)
        mean = torch.linalg.vecdot(probs, softplus)
        ctx.k = k
        ctx.save_for_backward(scores, probs, softplus, mean)
        return mean

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        scores, probs, softplus, mean = ctx.saved_tensors
        k = ctx.k
        centred = softplus - mean.unsqueeze(1)
        weighted = probs * grad.unsqueeze(1)
        grad_k = None
        if ctx.needs_input_grad[1]:
            grad_k = (weighted * centred * scores).sum()
        grad_scores = centred.mul_(k).add_(torch.sigmoid(scores)).mul_(weighted)
        return grad_scores, grad_k, None


def _negative_term(node_emb: Tensor, graph_emb: Tensor, batch: Tensor,
                   pos: Tensor, weighting: UniformNegatives,
                   scale: Tensor | None) -> Tensor:
    """``n_i`` of :func:`jsd_local_global` for a block of rows: ``[n]``."""
    scores = node_emb @ graph_emb.t()                           # [n, G]
    positive = batch.unsqueeze(1)                               # [n, 1]
    # mean_j w_ij sp_ij = sum_j q_ij sp_ij (positives weigh 0)
    k = weighting.tilt(scores, positive, scale)
    if k is None:  # weights of another form than a tilt
        q = weighting.log_weights(scores, positive, scale).exp()
        neg_mean = torch.linalg.vecdot(q, F.softplus(scores))
    else:
        neg_mean = _TiltedSoftplusMean.apply(scores, k, positive)
    return weighting.debias(neg_mean, F.softplus(pos))


def jsd_local_global(node_emb: Tensor, graph_emb: Tensor, batch: Tensor, *,
                     beta: float = 1.0,
                     tau_plus: float = JSD_TAU_PLUS,
                     reweight: str = "paper",
                     weighting: UniformNegatives | None = None,
                     chunk_size: int | None = None,
                     distributed: bool = False, validate: bool = True
                     ) -> Tensor:
    r"""InfoGraph's Jensen-Shannon local-global loss with hard negatives.

    With scores :math:`s_{ij} = \langle \phi(h_i), \psi(H_j) \rangle` of node
    :math:`i` against graph :math:`j`, :math:`s_i^+ = s_{i, g(i)}` and
    :math:`\mathrm{sp}` the softplus:

    .. math::
        E_{pos} &= \mathrm{mean}_i\,[\log 2 - \mathrm{sp}(-s_i^+)] \\
        n_i &= \frac{1}{1-\tau^+}\Big[\mathrm{mean}_{j \ne g(i)}
              w_{ij}\,\mathrm{sp}(s_{ij}) - \tau^+ \mathrm{sp}(s_i^+)\Big] \\
        E_{neg} &= \mathrm{mean}_i \max(n_i, 0) - \log 2, \qquad
        L = E_{neg} - E_{pos}

    with :math:`w` and the debiased :math:`n_i` those of the weighting
    (:mod:`hngraph.nn.weighting`; :class:`~hngraph.nn.weighting.HardNegatives`
    above). ``beta=0, tau_plus=0`` is exactly InfoGraph's objective.

    ``reweight="hcl-code"`` runs the published HCL code's formula on properly
    masked entries (:class:`~hngraph.nn.weighting.HCLCodeNegatives`): its
    weights, and its debiasing term with the opposite sign and no clamp,
    :math:`n_i = \frac{1}{1-\tau^+}[\mathrm{mean}_j w_{ij}\mathrm{sp}(s_{ij})
    + \tau^+ \mathrm{sp}(s_i^+)]`.

    The ``[N, G]`` score matrix is the largest tensor. With ``chunk_size``,
    the rows are processed ``chunk_size`` nodes at a time under activation
    checkpointing, so that memory grows as ``chunk_size * G`` instead of
    ``N * G``; the loss and its gradients are the same up to float rounding.

    Args:
        node_emb: ``[N, D]`` projected node embeddings :math:`\phi(h)`.
        graph_emb: ``[G, D]`` projected graph embeddings :math:`\psi(H)`.
        batch: ``[N]`` graph index of every node, values in ``[0, G)``.
        beta: hardness concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
        reweight: the weighting's name (see :func:`make_weighting`):
            ``"paper"`` (the derivation) or ``"hcl-code"``, ...
        weighting: a weighting passed in (:mod:`hngraph.nn.weighting`, or
            a subclass of your own), in place of ``beta``, ``tau_plus`` and
            ``reweight``.
        chunk_size: rows per chunk; ``None`` computes all rows at once.
        distributed: in a ``torch.distributed`` process group, contrast the
            local nodes against the graphs of every process (gathered with
            gradient, see :func:`hngraph.distributed.gather_graphs`); ``c``
            is then the maximum over all processes, and the result is this
            process's share of the mean over all nodes, so that the average
            over processes (as DDP averages gradients) is the loss of one
            process holding the whole global batch.
        validate: check the settings and that the embeddings are finite.
            The finiteness check waits for the device; a training loop
            that checked its settings once (as :class:`JSDLocalGlobalLoss`
            does) and checks its loss once per epoch passes ``False``.

    Returns:
        Scalar loss tensor.
    """
    if validate:
        beta, tau_plus, reweight, chunk_size = _validated(
            JSD_PARAMS, dict(beta=beta, tau_plus=tau_plus, reweight=reweight,
                             chunk_size=chunk_size),
            node_emb=(node_emb, "float", 2),
            graph_emb=(graph_emb, "float", 2),
            batch=(batch, "index", 1)).values()
        weighting = _chosen_weighting(weighting, jsd_local_global, beta,
                                      tau_plus, reweight)
    elif weighting is None:
        weighting = make_weighting(beta=beta, tau_plus=tau_plus,
                                   reweight=reweight)
    share = 1.0
    if distributed:
        graph_emb, offset, share = gather_graphs(graph_emb, node_emb.size(0))
        batch = batch + offset
    _check_local_global(node_emb, graph_emb, batch, validate)
    loss = _jsd_core(node_emb, graph_emb, batch, weighting,
                     chunk_size or node_emb.size(0), distributed)
    if distributed:  # this process's share of the mean over all nodes
        return share * (loss + LOG2) - LOG2
    return loss


def _check_local_global(node_emb: Tensor, graph_emb: Tensor, batch: Tensor,
                        finite: bool) -> None:
    """The shapes :func:`jsd_local_global` needs (and finite values)."""
    num_graphs = graph_emb.size(0)
    if num_graphs < 2:
        raise InvalidValueError(
            f"graph_emb holds {num_graphs} graph(s), but the local-global "
            "objective contrasts each graph with the other graphs of its "
            "batch, so it needs at least 2. Use a batch_size of 2 or more, "
            "or drop a last batch of one graph (drop_last=True).")
    if node_emb.dim() != 2 or graph_emb.dim() != 2 or \
            node_emb.size(1) != graph_emb.size(1):
        raise InvalidValueError(
            f"node_emb [N, D] and graph_emb [G, D] must share D, got shapes "
            f"{tuple(node_emb.shape)} and {tuple(graph_emb.shape)}.")
    if batch.numel() != node_emb.size(0):
        raise InvalidValueError(f"batch has {batch.numel()} entries, but "
                                f"node_emb has {node_emb.size(0)} rows "
                                "(nodes); give one graph index per node.")
    if node_emb.size(0) == 0:
        raise InvalidValueError("node_emb has no rows: the objective averages over "
                                "the batch's nodes, and a batch of graphs without "
                                "nodes has none; drop empty graphs first.")
    if finite:
        _check_finite("node_emb", node_emb)
        _check_finite("graph_emb", graph_emb)
        if batch.numel() and (batch.min() < 0 or batch.max() >= num_graphs):
            raise InvalidValueError(
                f"batch must hold graph indices in [0, {num_graphs}), got "
                f"values from {int(batch.min())} to {int(batch.max())}.")


def _jsd_core(node_emb: Tensor, graph_emb: Tensor, batch: Tensor,
              weighting: UniformNegatives, chunk: int,
              distributed: bool) -> Tensor:
    """:math:`E_{neg} - E_{pos}` of :func:`jsd_local_global` on checked
    inputs, ``chunk`` rows of the score matrix at a time (the scale ``c``
    of a weighting that needs one taken over all rows, and over all
    processes)."""
    num_nodes = node_emb.size(0)
    pos = (node_emb * graph_emb.index_select(0, batch)).sum(1)  # [N]
    e_pos = (LOG2 - F.softplus(-pos)).mean()
    scale = None
    if weighting.needs_scale and (chunk < num_nodes or distributed):
        scale = _negative_scale(node_emb, graph_emb, batch, chunk)
        if distributed:
            scale = global_max(scale)
    if chunk >= num_nodes:
        neg = _negative_term(node_emb, graph_emb, batch, pos, weighting,
                             scale)
        return neg.mean() - LOG2 - e_pos
    total = node_emb.new_zeros(())
    for start in range(0, num_nodes, chunk):
        rows = slice(start, start + chunk)
        total = total + checkpoint(
            _negative_term, node_emb[rows], graph_emb, batch[rows],
            pos[rows], weighting, scale, use_reentrant=False).sum()
    return total / num_nodes - LOG2 - e_pos


def hard_infonce(z1: Tensor, z2: Tensor, *, beta: float = 1.0,
                 tau_plus: float = INFONCE_TAU_PLUS,
                 temperature: float = 0.5,
                 reweight: str = "paper",
                 weighting: UniformNegatives | None = None,
                 distributed: bool = False, validate: bool = True) -> Tensor:
    r"""Two-view graph-level InfoNCE with hard, debiased negatives.

    ``z1[i]`` and ``z2[i]`` are two views of graph ``i``; both are
    L2-normalised here. Each of the ``2G`` views is an anchor, its other view
    the positive and the remaining ``M = 2G - 2`` views the negatives:

    .. math::
        p_i &= e^{\langle z_i, z_i' \rangle / t}, \qquad
        n_{ij} = e^{\langle z_i, z_j \rangle / t} \\
        N_i &= \max\Big(\frac{-\tau^+ M p_i + \sum_j w_{ij} n_{ij}}
                            {1-\tau^+},\; M e^{-1/t}\Big), \qquad
        w_{ij} = \frac{e^{\beta \langle z_i, z_j\rangle / t}}
                      {\mathrm{mean}_j e^{\beta \langle z_i, z_j\rangle/t}} \\
        L &= \mathrm{mean}_i -\log \frac{p_i}{p_i + N_i}

    evaluated in log space (``L_i = softplus(log N_i - log p_i)``), so that
    neither a large ``beta`` nor a small temperature overflows.
    ``beta=0, tau_plus=0`` is NT-Xent (SimCLR, GraphCL). The weights are
    those of the weighting (:mod:`hngraph.nn.weighting`) on the scores
    :math:`\langle z_i, z_j \rangle / t`: ``reweight="hcl-code"`` takes the
    published graph code's :math:`w_{ij} \propto e^{-2\beta s_{ij}/c}`
    (the debiasing keeps the InfoNCE form above).

    Args:
        z1: ``[G, D]`` first view.
        z2: ``[G, D]`` second view.
        beta: hardness concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
        temperature: ``t > 0``.
        reweight: the weighting's name (see :func:`make_weighting`).
        weighting: a weighting passed in, in place of ``beta``,
            ``tau_plus`` and ``reweight`` (see :func:`jsd_local_global`).
        distributed: in a ``torch.distributed`` process group, the local
            views are the anchors and the views of every process (gathered
            with gradient) their candidates, so ``G`` and ``M`` count the
            graphs of all processes; the result is this process's share of
            the mean over all anchors (see :func:`jsd_local_global`).
        validate: check the settings and that the views are finite (see
            :func:`jsd_local_global`).

    Returns:
        Scalar loss tensor.
    """
    if validate:
        beta, tau_plus, temperature, reweight = _validated(
            INFONCE_PARAMS, dict(beta=beta, tau_plus=tau_plus,
                                 temperature=temperature, reweight=reweight),
            z1=(z1, "float", 2), z2=(z2, "float", 2)).values()
        weighting = _chosen_weighting(weighting, hard_infonce, beta,
                                      tau_plus, reweight)
    elif weighting is None:
        weighting = make_weighting(beta=beta, tau_plus=tau_plus,
                                   reweight=reweight)
    if z1.shape != z2.shape or z1.dim() != 2:
        raise InvalidValueError(f"z1 and z2 must both be [G, D], got shapes "
                                f"{tuple(z1.shape)} and {tuple(z2.shape)}.")
    if validate:
        _check_finite("z1", z1)
        _check_finite("z2", z2)
    local, offset, share = z1.size(0), 0, 1.0
    if distributed:  # anchors: this process's 2 G_r views
        both, offset, share = gather_graphs(torch.cat([z1, z2], dim=1),
                                            2 * local)
        z1, z2 = both.split(z1.size(1), dim=1)
    if z1.size(0) < 2:
        raise InvalidValueError(
            f"the batch holds {z1.size(0)} graph(s); in-batch negatives need "
            "at least 2 graphs. Use a batch_size of 2 or more.")
    loss = _infonce_core(z1, z2, offset, local, weighting, temperature,
                         distributed)
    return share * loss if distributed else loss


def _infonce_core(z1: Tensor, z2: Tensor, offset: int, local: int,
                  weighting: UniformNegatives, temperature: float,
                  distributed: bool) -> Tensor:
    """The mean of :math:`L_i` of :func:`hard_infonce` over the anchors
    ``offset .. offset + local`` of both views, on checked inputs."""
    num_graphs = z1.size(0)
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)         # [2G, D]
    own = torch.arange(offset, offset + local, device=z.device)
    idx = torch.cat([own, own + num_graphs])                   # anchors [A]
    rows = torch.arange(idx.numel(), device=z.device)
    partner = (idx + num_graphs) % (2 * num_graphs)
    sim = (z[idx] @ z.t()) / temperature                       # [A, 2G]
    log_pos = sim[rows, partner]                               # [A]
    neg_mask = torch.ones_like(sim, dtype=torch.bool)
    neg_mask[rows, idx] = False
    neg_mask[rows, partner] = False
    m = 2 * num_graphs - 2

    # log of mean_j w_ij n_ij: a softmax of k*sim weighting exp(sim).
    scale = None
    if distributed and weighting.needs_scale:
        scale = global_max(max_abs_negative(sim, ~neg_mask))
    log_w = weighting.log_weights(sim, ~neg_mask, scale)
    log_mean = torch.logsumexp(
        (log_w + sim).masked_fill(~neg_mask, float("-inf")), dim=1)
    log_debiased = weighting.log_debias(log_mean, log_pos)
    log_ng = math.log(m) + torch.clamp_min(log_debiased, -1.0 / temperature)
    return F.softplus(log_ng - log_pos).mean()


class JSDLocalGlobalLoss(nn.Module):
    r"""InfoGraph's local-global loss with hard, debiased negatives, as a
    module whose settings are checked once, here (see
    :func:`jsd_local_global` for the formula; Sun et al., ICLR 2020,
    <https://arxiv.org/abs/1908.01000>; Robinson et al., ICLR 2021,
    <https://arxiv.org/abs/2010.04592>).

    Args:
        beta: hardness concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
        reweight: the weighting's name (see :func:`make_weighting`).
        weighting: a weighting passed in (:mod:`hngraph.nn.weighting`), in
            place of ``beta``, ``tau_plus`` and ``reweight``.
        chunk_size: rows of the score matrix per chunk; ``None``: all.

    Shapes: ``node_emb [N, D]``, ``graph_emb [G, D]``, ``batch [N]`` ->
    ``[]``.

    Examples:
        >>> loss_fn = JSDLocalGlobalLoss(beta=1.0, tau_plus=0.1)
        >>> loss_fn = JSDLocalGlobalLoss(weighting=SemiHardNegatives())
        >>> loss = loss_fn(node_emb, graph_emb, data.batch)
    """

    @validate_params(JSD_PARAMS)
    def __init__(self, *, beta: float = 1.0,
                 tau_plus: float = JSD_TAU_PLUS,
                 reweight: str = "paper",
                 weighting: UniformNegatives | None = None,
                 chunk_size: int | None = None):
        super().__init__()
        self.weighting = _chosen_weighting(weighting, type(self), beta,
                                           tau_plus, reweight)
        self.chunk_size = chunk_size

    def extra_repr(self) -> str:
        return f"chunk_size={self.chunk_size}"

    def forward(self, node_emb: Tensor, graph_emb: Tensor, batch: Tensor,
                distributed: bool = False) -> Tensor:
        return jsd_local_global(node_emb, graph_emb, batch,
                                weighting=self.weighting,
                                chunk_size=self.chunk_size,
                                distributed=distributed, validate=False)


class HardInfoNCELoss(nn.Module):
    r"""Two-view InfoNCE (NT-Xent) with hard, debiased negatives, as a module
    whose settings are checked once, here (see :func:`hard_infonce` for the
    formula; You et al., NeurIPS 2020, <https://arxiv.org/abs/2010.13902>;
    Chuang et al., NeurIPS 2020, <https://arxiv.org/abs/2007.00224>;
    Robinson et al., ICLR 2021, <https://arxiv.org/abs/2010.04592>).

    Args:
        beta: hardness concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
        temperature: ``t > 0``.
        reweight: the weighting's name (see :func:`make_weighting`).
        weighting: a weighting passed in (:mod:`hngraph.nn.weighting`), in
            place of ``beta``, ``tau_plus`` and ``reweight``.

    Shapes: ``z1 [G, D]``, ``z2 [G, D]`` -> ``[]``.

    Examples:
        >>> loss_fn = HardInfoNCELoss(beta=1.0, tau_plus=0.1)
        >>> loss = loss_fn(head(encoder(view1)), head(encoder(view2)))
    """

    @validate_params(INFONCE_PARAMS)
    def __init__(self, *, beta: float = 1.0,
                 tau_plus: float = INFONCE_TAU_PLUS,
                 temperature: float = 0.5,
                 reweight: str = "paper",
                 weighting: UniformNegatives | None = None):
        super().__init__()
        self.weighting = _chosen_weighting(weighting, type(self), beta,
                                           tau_plus, reweight)
        self.temperature = temperature

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:g}"

    def forward(self, z1: Tensor, z2: Tensor, distributed: bool = False
                ) -> Tensor:
        return hard_infonce(z1, z2, weighting=self.weighting,
                            temperature=self.temperature,
                            distributed=distributed, validate=False)


#: The public names (the API reference lists these).
__all__ = ["jsd_local_global", "hard_infonce", "JSDLocalGlobalLoss",
           "HardInfoNCELoss", "negative_weights", "make_weighting", "WEIGHT_PARAMS", "JSD_PARAMS",
           "INFONCE_PARAMS"]
