"""GraphSAGE and GAT point classifiers on a k-nearest-neighbour graph of hits."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor, nn
from torch_geometric.nn import GATConv, SAGEConv

try:
    import torch_cluster
except ImportError:
    torch_cluster = None

#: Graph convolutions of :class:`PointGNN`.
CONVOLUTIONS = ("sage", "gat")


def knn_graph(pos: Tensor, k: int) -> Tensor:
    r"""Join every hit to its :obj:`k` nearest other hits in 3D.

    Uses ``torch_cluster`` when it is installed and a SciPy k-d tree
    otherwise. Hits with equal positions are joined but never to themselves,
    and an event with fewer than :math:`k + 1` hits joins each hit to all
    others.

    Args:
        pos (torch.Tensor): Hit positions :math:`(x, y, z)` in cm.
        k (int): Neighbours per hit.

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** edge_index :math:`(2, |V| \cdot \min(k, |V| - 1))`

    Returns:
        Edges pointing from each neighbour to the hit that found it, sorted
        by that hit.
    """
    if k < 1:
        raise ValueError(f"Expected 'k' >= 1, got {k}")
    num_hits = pos.size(0)
    k = min(k, num_hits - 1)
    if k < 1:
        return torch.empty(2, 0, dtype=torch.long, device=pos.device)

    if torch_cluster is not None:
        query, neighbour = torch_cluster.knn(pos.float(), pos.float(), k + 1)
        keep = query != neighbour
        query, neighbour = query[keep], neighbour[keep]
        # Duplicated positions can crowd the query hit out of its own list,
        # leaving k + 1 neighbours: keep the first k of each hit.
        count = torch.bincount(query, minlength=num_hits)
        first = torch.cumsum(count, 0) - count
        rank = torch.arange(query.numel(), device=query.device) - first[query]
        keep = rank < k
        return torch.stack([neighbour[keep], query[keep]])

    points = pos.detach().cpu().double().numpy()
    _, index = cKDTree(points).query(points, k=k + 1)
    query = np.broadcast_to(np.arange(num_hits)[:, None], index.shape)
    # Drop each hit from its own list, and the last neighbour of hits whose
    # list did not contain them (duplicated positions).
    not_self = index != query
    rank = np.cumsum(not_self, axis=1)
    keep = not_self & (rank <= k)
    edge_index = np.stack([index[keep], query[keep]])
    return torch.from_numpy(edge_index.astype(np.int64)).to(pos.device)


class PointGNN(nn.Module):
    r"""Per-hit classifier: an input MLP, graph convolutions and a linear head.

    Each of the :obj:`num_layers` blocks computes
    :math:`h \leftarrow h + \mathrm{ReLU}(\mathrm{LayerNorm}(\mathrm{conv}(h)))`
    with a GraphSAGE (Hamilton et al. 2017, mean aggregation) or GAT
    (Velickovic et al. 2018, :obj:`heads` heads whose outputs are
    concatenated) convolution.

    Args:
        in_channels (int): Node features per hit.
        num_classes (int): Output classes.
        hidden (int, optional): Hidden width. (default: :obj:`64`)
        num_layers (int, optional): Convolution blocks. (default: :obj:`3`)
        conv (str, optional): :obj:`"sage"` or :obj:`"gat"`.
            (default: :obj:`"sage"`)
        heads (int, optional): Attention heads of GAT; :obj:`hidden` must be
            a multiple of it. (default: :obj:`4`)
        dropout (float, optional): Dropout before the head.
            (default: :obj:`0.0`)

    Shapes:
        - **input:** x :math:`(|V|, F_{in})`, edge_index :math:`(2, |E|)`
        - **output:** :math:`(|V|, C)`
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 64,
        num_layers: int = 3,
        conv: str = "sage",
        heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if conv not in CONVOLUTIONS:
            raise ValueError(f"Expected 'conv' in {CONVOLUTIONS}, got '{conv}'")
        if min(in_channels, hidden, num_layers, heads) < 1 or num_classes < 2:
            raise ValueError(
                f"Expected positive sizes and num_classes >= 2, got "
                f"in_channels={in_channels}, num_classes={num_classes}, "
                f"hidden={hidden}, num_layers={num_layers} and heads={heads}"
            )
        if conv == "gat" and hidden % heads != 0:
            raise ValueError(
                f"Expected 'hidden' to be a multiple of 'heads' for GAT, got "
                f"hidden={hidden} and heads={heads}"
            )
        self.conv = conv
        self.encoder = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.LayerNorm(hidden), nn.ReLU()
        )
        self.convs = nn.ModuleList(
            SAGEConv(hidden, hidden)
            if conv == "sage"
            else GATConv(hidden, hidden // heads, heads=heads)
            for _ in range(num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = self.encoder(x)
        for conv, norm in zip(self.convs, self.norms):
            h = h + torch.relu(norm(conv(h, edge_index)))
        return self.head(self.dropout(h))
