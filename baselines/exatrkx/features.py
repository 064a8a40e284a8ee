"""Input features of hits for the Exa.TrkX-style pipeline."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.data import Data

#: Default radial scale in cm. The sPHENIX TPC reaches r = 75.4 cm and the
#: TrackML silicon detector about 102 cm, so r / 100 stays within [0, 1.1].
DEFAULT_R_SCALE = 100.0

#: Default longitudinal scale in cm. The sPHENIX TPC spans |z| <= 105 cm, so
#: z / 100 stays within about [-1, 1]. TrackML hits reach |z| of about 300 cm,
#: which gives values up to 3. An MLP copes with that, but ``z_scale=300.0``
#: suits events from TrackML-like detectors better.
DEFAULT_Z_SCALE = 100.0


#: Number of edge features written by :func:`edge_features`.
NUM_EDGE_FEATURES = 4


def cylindrical_coordinates(pos: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Convert Cartesian hit positions to cylindrical coordinates.

    Args:
        pos (torch.Tensor): Hit positions :math:`(x, y, z)` in cm.

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** r, phi, z, each :math:`(|V|)`

    Returns:
        The transverse radius r in cm, the azimuth phi in :math:`(-\pi, \pi]`
        and z in cm.
    """
    if pos.dim() != 2 or pos.size(1) != 3:
        raise ValueError(
            f"Expected 'pos' of shape [num_hits, 3], got {list(pos.shape)}"
        )
    x, y, z = pos.unbind(dim=1)
    return torch.hypot(x, y), torch.atan2(y, x), z


def wrap_angle(angle: Tensor) -> Tensor:
    r"""Wrap angles in radians to :math:`[-\pi, \pi)`."""
    return torch.remainder(angle + math.pi, 2.0 * math.pi) - math.pi


def hit_features(
    data: Data,
    r_scale: float = DEFAULT_R_SCALE,
    z_scale: float = DEFAULT_Z_SCALE,
    include_x: bool = False,
) -> Tensor:
    r"""Compute the node features :math:`(r / r_s, \phi / \pi, z / z_s)` of hits.

    Args:
        data (torch_geometric.data.Data): An event with ``pos`` in cm and,
            when :obj:`include_x` is set, per-hit features ``x``.
        r_scale (float, optional): Radial scale :math:`r_s` in cm.
            (default: :obj:`100.0`)
        z_scale (float, optional): Longitudinal scale :math:`z_s` in cm.
            (default: :obj:`100.0`)
        include_x (bool, optional): If set, append ``data.x`` to the
            cylindrical features. (default: :obj:`False`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`, x :math:`(|V|, F)`
        - **output:** :math:`(|V|, 3)`, or :math:`(|V|, 3 + F)` with
          :obj:`include_x`

    Returns:
        A float32 tensor of node features.
    """
    if r_scale <= 0 or z_scale <= 0:
        raise ValueError(
            f"Expected positive 'r_scale' and 'z_scale' in cm, got "
            f"r_scale={r_scale} and z_scale={z_scale}"
        )
    pos = getattr(data, "pos", None)
    if pos is None:
        raise ValueError("The event has no 'pos' attribute with hit positions")

    r, phi, z = cylindrical_coordinates(pos.float())
    features = torch.stack([r / r_scale, phi / math.pi, z / z_scale], dim=1)

    if include_x:
        x = getattr(data, "x", None)
        if x is None:
            raise ValueError(
                "Expected an event with per-hit features 'x' because "
                "'include_x' is set, but the event has no 'x'"
            )
        if x.dim() != 2 or x.size(0) != features.size(0):
            raise ValueError(
                f"Expected 'x' of shape [{features.size(0)}, F], got "
                f"{list(x.shape)}"
            )
        features = torch.cat([features, x.float()], dim=1)

    return features


def edge_features(
    pos: Tensor,
    embedding: Tensor,
    edge_index: Tensor,
    r_scale: float = DEFAULT_R_SCALE,
    z_scale: float = DEFAULT_Z_SCALE,
) -> Tensor:
    r"""Compute the features of edges :math:`(i, j)` for the edge classifier.

    The features are :math:`(r_j - r_i) / r_s`, the azimuth difference
    :math:`\phi_j - \phi_i` wrapped to :math:`[-\pi, \pi)` and divided by
    :math:`\pi`, :math:`(z_j - z_i) / z_s`, and the Euclidean distance
    :math:`\lVert e_j - e_i \rVert_2` of the two hits' embeddings.

    Args:
        pos (torch.Tensor): Hit positions :math:`(x, y, z)` in cm.
        embedding (torch.Tensor): Embedded hits.
        edge_index (torch.Tensor): Edges from hit :math:`i` to hit :math:`j`.
        r_scale (float, optional): Radial scale :math:`r_s` in cm.
            (default: :obj:`100.0`)
        z_scale (float, optional): Longitudinal scale :math:`z_s` in cm.
            (default: :obj:`100.0`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`, embedding :math:`(|V|, D)`,
          edge_index :math:`(2, |E|)`
        - **output:** :math:`(|E|, 4)`
    """
    if embedding.dim() != 2 or embedding.size(0) != pos.size(0):
        raise ValueError(
            f"Expected 'embedding' of shape [{pos.size(0)}, D], got "
            f"{list(embedding.shape)}"
        )
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"Expected 'edge_index' of shape [2, num_edges], got "
            f"{list(edge_index.shape)}"
        )
    r, phi, z = cylindrical_coordinates(pos.float())
    source, target = edge_index

    dr = (r[target] - r[source]) / r_scale
    dphi = wrap_angle(phi[target] - phi[source]) / math.pi
    dz = (z[target] - z[source]) / z_scale
    distance = (embedding[target] - embedding[source]).float().norm(dim=-1)
    return torch.stack([dr, dphi, dz, distance], dim=1)
