r"""How a contrastive loss weights the negatives of each anchor: one class
per formula, all called the same way by both losses
(:class:`~hngraph.nn.losses.JSDLocalGlobalLoss` and
:class:`~hngraph.nn.losses.HardInfoNCELoss`; the formulas in
``docs/method.md``).

Each row :math:`i` of a score matrix :math:`s` (an anchor against its
candidates) has :math:`M` negatives. A weighting gives them weights
:math:`w_{ij} \ge 0` with mean 1, as the distribution
:math:`q_{ij} = w_{ij} / M`, and the loss takes
:math:`\mathrm{mean}_j\, w_{ij} f(s_{ij})` in place of the plain mean.
With a class prior :math:`\tau^+ > 0` the result is debiased as Chuang et
al. (NeurIPS 2020, <https://arxiv.org/abs/2007.00224>) derive:
:math:`(\mathrm{mean}_j\, w_{ij} f(s_{ij}) - \tau^+ f(s^+_i)) / (1 - \tau^+)`,
the mean over the true negatives when a fraction :math:`\tau^+` of the
batch shares the anchor's class.

A new weighting is one subclass of :class:`UniformNegatives` (the base)
that overrides :meth:`~UniformNegatives.tilt` (weights
:math:`\propto e^{k s}`) or :meth:`~UniformNegatives.log_weights` (any
weights), plus its entry in :data:`hngraph.registry.WEIGHTINGS`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..constraints import BETA, QUANTILE, TAU_PLUS, validate_params
from ..errors import InvalidTypeError, InvalidValueError

#: Log-weights this far below their row's largest become weight 0 (see
#: :func:`tilted_softmax_`).
WEIGHT_CUTOFF = 50.0


class UniformNegatives(nn.Module):
    r"""Every negative weighs the same, :math:`w_{ij} = 1`: InfoGraph's and
    NT-Xent's mean over the batch's other graphs (Sun et al., ICLR 2020,
    <https://arxiv.org/abs/1908.01000>; Chen et al., ICML 2020,
    <https://arxiv.org/abs/2002.05709>). Similar and dissimilar negatives
    count alike. The base of every weighting (see the module's
    description).

    Shapes: ``scores [R, C]``, ``neg_mask [R, C]`` -> ``[R, C]`` weights.
    """

    #: The class prior of false negatives; 0 leaves the mean as it is.
    tau_plus: float = 0.0

    def tilt(self, scores: Tensor, excluded: Tensor,
             scale: Tensor | None = None) -> float | Tensor | None:
        """The factor :math:`k` of weights :math:`\\propto e^{k s}`, or
        ``None`` for weights of another form (given by
        :meth:`log_weights`). ``excluded`` marks the entries that are no
        negatives: a boolean ``[R, C]`` mask, or one column per row
        (``[R, 1]`` indices); ``scale`` is the largest :math:`|s|` over
        all rows where the rows are part of a larger matrix (see
        :attr:`needs_scale`)."""
        return 0.0

    @property
    def needs_scale(self) -> bool:
        """Whether the weights of a chunk of rows depend on the largest
        :math:`|s|` over the negatives of all rows (passed as ``scale``)."""
        return False

    def log_weights(self, scores: Tensor, excluded: Tensor,
                    scale: Tensor | None = None) -> Tensor:
        """:math:`\\log q_{ij}` of each row's negatives, ``-inf`` on the
        excluded entries (``excluded`` and ``scale`` as in :meth:`tilt`);
        by default the log-softmax of the tilt :math:`k s`."""
        k = self.tilt(scores, excluded, scale)
        return tilted_softmax_(scores * k, excluded, log=True)

    def debias(self, neg_mean: Tensor, positive: Tensor) -> Tensor:
        r"""The debiased negative term of the local-global loss,
        :math:`\max\big(0, (m_i - \tau^+ p_i) / (1 - \tau^+)\big)` of the
        weighted mean :math:`m_i` and the positive's term :math:`p_i`
        (both ``[R]``)."""
        return ((neg_mean - self.tau_plus * positive)
                / (1.0 - self.tau_plus)).clamp_min(0.0)

    def log_debias(self, log_mean: Tensor, log_pos: Tensor) -> Tensor:
        r""":math:`\log\big((m_i - \tau^+ p_i) / (1 - \tau^+)\big)` from
        :math:`\log m_i` and :math:`\log p_i` (``[R]``), ``-inf`` where it
        is not positive: the debiasing of the two-view InfoNCE, in log
        space so that no exponential overflows."""
        a = torch.maximum(log_mean, log_pos).detach()
        inner = torch.exp(log_mean - a) - self.tau_plus * torch.exp(
            log_pos - a)
        return torch.where(
            inner > 0, a + torch.log(inner.clamp_min(1e-38))
            - math.log1p(-self.tau_plus),
            torch.full_like(inner, float("-inf")))

    def weights(self, scores: Tensor, neg_mask: Tensor) -> Tensor:
        """The weights :math:`w_{ij}` of a score matrix ``[R, C]`` whose
        negatives ``neg_mask`` marks (boolean ``[R, C]``, at least one per
        row): zero elsewhere, mean 1 over each row's negatives."""
        for name, value, kind in (("scores", scores, "float"),
                                  ("neg_mask", neg_mask, "bool")):
            if not isinstance(value, Tensor) or value.dim() != 2 or not (
                    value.is_floating_point() if kind == "float"
                    else value.dtype == torch.bool):
                raise InvalidTypeError(
                    f"{name} must be a 2-dimensional {kind} tensor, got "
                    f"{getattr(value, 'dtype', type(value).__name__)} of "
                    f"shape {tuple(getattr(value, 'shape', ()))}.")
        if neg_mask.shape != scores.shape:
            raise InvalidValueError(f"neg_mask must have the shape of scores "
                                    f"{tuple(scores.shape)}, got "
                                    f"{tuple(neg_mask.shape)}.")
        count = neg_mask.sum(dim=1, keepdim=True).to(scores.dtype)
        if (count == 0).any():
            raise InvalidValueError(
                "every row of neg_mask needs at least one negative (True); "
                f"rows {(count == 0).nonzero()[:, 0].tolist()[:10]} have "
                "none.")
        # the log path: differentiable, where the in-place one is not
        return self.log_weights(scores, ~neg_mask).exp() * count


#: The parameters of :class:`DebiasedNegatives`.
DEBIASED_PARAMS = {"tau_plus": TAU_PLUS}


class DebiasedNegatives(UniformNegatives):
    r"""Uniform weights, debiased with the class prior :math:`\tau^+` (Chuang
    et al., NeurIPS 2020, <https://arxiv.org/abs/2007.00224>): similar and
    dissimilar negatives count alike, and the positive's share
    :math:`\tau^+` is taken out of their mean (see the module's
    description).

    Args:
        tau_plus: class prior of false negatives, in ``[0, 1)``.
    """

    @validate_params(DEBIASED_PARAMS)
    def __init__(self, *, tau_plus: float):
        super().__init__()
        self.tau_plus = tau_plus

    def extra_repr(self) -> str:
        return f"tau_plus={self.tau_plus:g}"


#: The parameters of :class:`HardNegatives` and :class:`HCLCodeNegatives`.
HARD_PARAMS = {"beta": BETA, "tau_plus": TAU_PLUS}


class HardNegatives(DebiasedNegatives):
    r"""Hard negatives (Robinson et al., ICLR 2021,
    <https://arxiv.org/abs/2010.04592>): the tilted distribution
    :math:`q_\beta \propto e^{\beta s} p`, that is

    .. math:: w_{ij} = \frac{e^{\beta s_{ij}}}
                            {\mathrm{mean}_{j'} e^{\beta s_{ij'}}},

    debiased with :math:`\tau^+` (see the module's description). The more
    similar a negative is to the anchor, the more it weighs; ``beta=0`` is
    :class:`DebiasedNegatives`.

    Args:
        beta: concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
    """

    @validate_params(HARD_PARAMS)
    def __init__(self, *, beta: float, tau_plus: float):
        super().__init__(tau_plus=tau_plus)
        self.beta = beta

    def tilt(self, scores: Tensor, excluded: Tensor,
             scale: Tensor | None = None) -> float | Tensor:
        return float(self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, tau_plus={self.tau_plus:g}"


class HCLCodeNegatives(HardNegatives):
    r"""The weights of the published HCL graph code (Robinson et al.,
    <https://github.com/joshr17/HCL>):

    .. math:: w_{ij} \propto e^{-2\beta s_{ij} / c}, \qquad
              c = \max_{i, j\ \mathrm{negative}} |s_{ij}|,

    one scalar :math:`c` over the negatives of all rows. The sign is the
    opposite of the paper's: the more similar a negative is to the anchor,
    the *less* it weighs. In the local-global loss the code adds the
    debiasing term, :math:`(m_i + \tau^+ p_i) / (1 - \tau^+)` with no
    clamp (its formula, kept here); the two-view loss keeps the InfoNCE
    form of :meth:`~UniformNegatives.log_debias`.

    Args:
        beta: concentration, ``>= 0``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
    """

    def tilt(self, scores: Tensor, excluded: Tensor,
             scale: Tensor | None = None) -> float | Tensor:
        if self.beta == 0.0:
            return 0.0
        if scale is None:
            scale = max_abs_negative(scores, excluded)
        return -2.0 * self.beta / scale.clamp_min(1e-12)

    @property
    def needs_scale(self) -> bool:
        return self.beta != 0.0

    def debias(self, neg_mean: Tensor, positive: Tensor) -> Tensor:
        return (neg_mean + self.tau_plus * positive) / (1.0 - self.tau_plus)


#: The parameters of :class:`SemiHardNegatives`.
SEMI_HARD_PARAMS = {"low": QUANTILE, "high": QUANTILE, "tau_plus": TAU_PLUS}


class SemiHardNegatives(DebiasedNegatives):
    r"""Semi-hard negatives: a band of each anchor's similarity
    distribution, as conditional negative sampling draws them (Wu et al.,
    ICLR 2021, <https://arxiv.org/abs/2010.02037>). With the row's
    :math:`M` negatives ranked by score from the least similar
    (:math:`r_{ij} = 0`) to the most, the band is the ranks
    :math:`\lfloor \ell M \rfloor \le r_{ij} < \max(\lceil h M \rceil,
    \lfloor \ell M \rfloor + 1)`, and

    .. math:: w_{ij} = \frac{M}{|\text{band}_i|}\,
              [r_{ij} \in \text{band}_i],

    debiased with :math:`\tau^+` (see the module's description). Negatives
    more similar than the band (likely false negatives) and less similar
    (easy ones) weigh 0; the band's negatives weigh alike. Ties rank in
    column order. The weights are a selection, so no gradient flows
    through them.

    Args:
        low: the band's lower quantile :math:`\ell`, in ``[0, 1]``.
        high: its upper quantile :math:`h`, in ``[0, 1]``, above ``low``.
        tau_plus: class prior of false negatives, in ``[0, 1)``.
    """

    @validate_params(SEMI_HARD_PARAMS)
    def __init__(self, *, low: float = 0.5, high: float = 0.9,
                 tau_plus: float = 0.0):
        if high <= low:
            raise InvalidValueError(
                f"high must be above low, got low={low!r}, high={high!r}; "
                "the band is the quantiles from low to high of each "
                "anchor's negatives (for example low=0.5, high=0.9).")
        super().__init__(tau_plus=tau_plus)
        self.low, self.high = low, high

    def tilt(self, scores: Tensor, excluded: Tensor,
             scale: Tensor | None = None) -> None:
        return None

    def log_weights(self, scores: Tensor, excluded: Tensor,
                    scale: Tensor | None = None) -> Tensor:
        mask = excluded_mask(excluded, scores.shape)
        with torch.no_grad():
            filled = scores.masked_fill(mask, float("-inf"))
            order = filled.argsort(dim=1, stable=True)
            rank = torch.empty_like(order).scatter_(
                1, order, torch.arange(scores.size(1), device=scores.device)
                .expand_as(order).contiguous())
            skipped = mask.sum(dim=1, keepdim=True)
            count = scores.size(1) - skipped                      # M [R, 1]
            lo = torch.floor(self.low * count).long()
            hi = torch.maximum(torch.ceil(self.high * count).long(), lo + 1)
            rank = rank - skipped          # rank among the row's negatives
            band = (rank >= lo) & (rank < hi) & ~mask
            size = band.sum(dim=1, keepdim=True).to(scores.dtype)
            return torch.where(band, -size.log(),
                               torch.full_like(scores, float("-inf")))

    def extra_repr(self) -> str:
        return (f"low={self.low:g}, high={self.high:g}, "
                f"tau_plus={self.tau_plus:g}")


def tilted_softmax_(logits: Tensor, excluded: Tensor, *, log: bool = False
                    ) -> Tensor:
    """Softmax (or log-softmax) of each row of ``logits`` over its negatives,
    in place where autograd allows: the excluded entries (as in
    :meth:`UniformNegatives.tilt`) get probability 0, and so do entries
    below ``e^-50`` (:data:`WEIGHT_CUTOFF`) of their row's largest. Left in,
    those would be subnormal floats (as would the gradients through them),
    which CPUs process many times slower; what is dropped is below 1e-19 of
    the row's total, under even float64 resolution.

    Shapes: ``logits [R, C]`` -> ``[R, C]``.
    """
    logits = fill_excluded_(logits, excluded, float("-inf"))
    logits = logits.sub_(logits.detach().amax(dim=1, keepdim=True))
    if log:
        logits = logits.masked_fill(logits < -WEIGHT_CUTOFF, float("-inf"))
        return logits - logits.logsumexp(dim=1, keepdim=True)
    # the clamp comes first: an exp that returns a subnormal is slow too
    probs = logits.clamp_(min=-WEIGHT_CUTOFF).exp_()
    F.threshold(probs, math.exp(-WEIGHT_CUTOFF), 0.0, inplace=True)
    return probs.div_(probs.sum(dim=1, keepdim=True))


def fill_excluded_(x: Tensor, excluded: Tensor, value: float) -> Tensor:
    """``x`` with ``value`` in place at the excluded entries (as in
    :meth:`UniformNegatives.tilt`: a boolean mask, or one column index per
    row)."""
    if excluded.dtype == torch.bool:
        return x.masked_fill_(excluded, value)
    return x.scatter_(1, excluded, value)


def excluded_mask(excluded: Tensor, shape: torch.Size) -> Tensor:
    """The excluded entries (as in :meth:`UniformNegatives.tilt`) as a
    boolean mask of ``shape``."""
    if excluded.dtype == torch.bool:
        return excluded
    return fill_excluded_(torch.zeros(shape, dtype=torch.bool,
                                      device=excluded.device), excluded, True)


def argmax_abs_negative(scores: Tensor, excluded: Tensor
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """``(max |s_ij|, i, j)`` over the negatives (``excluded`` as in
    :meth:`UniformNegatives.tilt`), without autograd."""
    with torch.no_grad():
        abs_s = fill_excluded_(scores.abs(), excluded, -1.0)
        value, flat = abs_s.view(-1).max(0)
    return value, flat // scores.size(1), flat % scores.size(1)


def max_abs_negative(scores: Tensor, excluded: Tensor) -> Tensor:
    """``c = max |s_ij|`` over the negatives: the arg-max is found without
    autograd, then the one entry is taken with its gradient (the gradient of
    ``amax`` without its ``[R, C]`` backward)."""
    _, row, col = argmax_abs_negative(scores, excluded)
    return scores[row, col].abs()


#: The public names (the API reference lists these).
__all__ = ["UniformNegatives", "DebiasedNegatives", "HardNegatives",
           "HCLCodeNegatives", "SemiHardNegatives", "tilted_softmax_",
           "DEBIASED_PARAMS", "HARD_PARAMS", "SEMI_HARD_PARAMS"]
