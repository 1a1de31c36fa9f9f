r"""A negative weighting of your own, run through hngraph's protocol.

``ScaledHardNegatives`` keeps the paper's direction (the more similar a
negative, the more it weighs) and takes the published code's scale: the
tilt is :math:`\beta / c` with :math:`c` the largest :math:`|s|` over the
batch's negatives, so that ``beta`` means the same whatever the scores'
range,

.. math:: w_{ij} \propto e^{\beta s_{ij} / c}.

It subclasses :class:`~hngraph.nn.weighting.HardNegatives`, which checks
``beta`` and ``tau_plus`` and debiases as the paper does; only the tilt is
new. ``own_negatives.yaml`` names it by import path,
``own_negatives:ScaledHardNegatives``, in a grid beside InfoGraph and the
paper's weighting (run it from this folder; see "Bring your own method",
docs/extending.md).
"""
from hngraph.nn.weighting import HardNegatives, max_abs_negative


class ScaledHardNegatives(HardNegatives):
    """Hard negatives with the tilt ``beta / c``, ``c`` the largest
    ``|s|`` over the negatives of every row."""

    def tilt(self, scores, excluded, scale=None):
        if self.beta == 0.0:
            return 0.0
        if scale is None:
            scale = max_abs_negative(scores, excluded)
        return self.beta / scale.clamp_min(1e-12)

    @property
    def needs_scale(self):
        return self.beta != 0.0
