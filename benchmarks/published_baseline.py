"""Baseline for the speed benchmark: the published InfoGraph / HCL approach.

The published code builds its positive and negative masks with a Python loop
over every node of the batch, on dense float ``[N, G]`` matrices, and runs
its estimator on ``scores * mask`` (the zeroed entries included). This
module re-implements that approach (not its code) so that a training step
can be timed against hngraph's vectorised loss on the same batches. It is a
timing baseline only: hngraph never uses it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG2 = math.log(2.0)


def published_style_masks(batch: torch.Tensor, num_graphs: int):
    """Dense float masks filled node by node, as the published code does."""
    num_nodes = batch.size(0)
    pos_mask = torch.zeros((num_nodes, num_graphs), device=batch.device)
    neg_mask = torch.ones((num_nodes, num_graphs), device=batch.device)
    for node, graph in enumerate(batch):
        pos_mask[node][graph] = 1.0
        neg_mask[node][graph] = 0.0
    return pos_mask, neg_mask


def published_style_loss(node_emb, graph_emb, batch, beta=1.0, tau_plus=0.5):
    """The published JSD_hard local-global estimator (its own formula)."""
    num_graphs, num_nodes = graph_emb.size(0), node_emb.size(0)
    pos_mask, neg_mask = published_style_masks(batch, num_graphs)
    res = node_emb @ graph_emb.t()
    p = res * pos_mask
    e_pos = (LOG2 - F.softplus(-p)
             - tau_plus / (1 - tau_plus) * (F.softplus(-p) + p)).sum() / num_nodes
    q = res * neg_mask
    e_q = F.softplus(-q) + q
    if beta == 0:
        e_q = (e_q - LOG2) / (1 - tau_plus)
    else:
        w = (beta * (-2 * q / torch.maximum(q.max(), q.min().abs()))).exp()
        w = w / w.mean(dim=1, keepdim=True)
        e_q = (w * e_q) / (1 - tau_plus) - LOG2
    e_neg = e_q.sum() / (num_nodes * (num_graphs - 1))
    return e_neg - e_pos


class PublishedStyleInfoGraph(torch.nn.Module):
    """hngraph's InfoGraph network with the published-style loss."""

    def __init__(self, model, beta=1.0, tau_plus=0.5):
        super().__init__()
        self.model, self.beta, self.tau_plus = model, beta, tau_plus

    def loss(self, data):
        m = self.model
        graph_emb, node_emb = m.encode(data.x, data.edge_index, data.batch)
        return published_style_loss(m.local_head(node_emb),
                                    m.global_head(graph_emb), data.batch,
                                    self.beta, self.tau_plus)
