"""Truth edges of an event, the order of hits along a track, and edge labels."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.data import Data

#: Rules for ordering a particle's hits along its track, see :func:`track_order`.
ORDER_RULES = ("auto", "r", "helix", "distance")

# Columns of ``data.particles`` (fm4npp_geo.data.PARTICLE_COLUMNS) read here.
_CHARGE, _PX, _PY, _PZ, _VX, _VY, _VZ = 2, 4, 5, 6, 7, 8, 9

# Order key added to every hit of a returning leg in cm. It exceeds any
# transverse distance inside a detector, so returning legs sort after
# outgoing ones, and twice it separates consecutive turns.
_LEG_OFFSET = 1.0e5

# Transverse momentum in GeV of a unit charge on a 1 m radius in 1 T.
_GEV_PER_TESLA_METRE = 0.299792458

# Smallest z advance per turn in cm at which turns are distinguished by z.
_MIN_TURN_PITCH = 1.0


def track_order(data: Data, rule: str = "auto", magnetic_field: float = 1.4) -> Tensor:
    r"""Compute a key that orders each particle's hits along its track.

    Rules:

    - :obj:`"r"`: the transverse radius :math:`r`. Right for tracks that
      cross each layer once, wrong for loopers, whose returning leg crosses
      the same radii again.
    - :obj:`"helix"`: the transverse distance :math:`d` from the particle's
      production vertex, first along the outgoing leg and then, decreasing,
      along the returning leg. In the solenoid field a track's transverse
      projection is a circle through the vertex, and a hit at turning angle
      :math:`\alpha` lies at :math:`d = 2R \sin(\alpha / 2)` in the direction
      :math:`\phi_0 - \mathrm{sign}(q)\, \alpha / 2` seen from the vertex,
      where :math:`\phi_0` is the initial momentum direction and a positive
      particle turns clockwise in a field along :math:`+z`. Hits with
      :math:`\alpha / 2 \ge \pi / 2` are past the apex of the circle, on the
      returning leg. The chord direction repeats every turn, so the turn
      comes from :math:`z`, which advances by :math:`2 \pi R \cot\theta`
      per turn: a hit of turn :math:`n` sorts after every hit of turn
      :math:`n - 1`. Needs the particle table ``data.particles`` with the
      columns of :data:`fm4npp_geo.data.PARTICLE_COLUMNS`.
    - :obj:`"distance"`: the 3D distance :math:`\sqrt{r^2 + z^2}` from the
      origin, the usual order for silicon detectors, whose end-cap disks
      share radii but not :math:`z`.
    - :obj:`"auto"`: :obj:`"helix"` when ``data.particles`` exists, else
      :obj:`"r"`.

    The key is only compared between hits of the same particle. Noise hits
    get their radius.

    NOTE: the turn number assumes the radius :math:`R` at production. A
    looper that loses much of its momentum within one turn, or whose turns
    advance less than 1 cm in :math:`z`, can get hits of two turns
    interleaved.

    Args:
        data (torch_geometric.data.Data): An event with ``pos`` in cm and
            ``particle_id`` (0 for noise).
        rule (str, optional): One of :obj:`"auto"`, :obj:`"r"`,
            :obj:`"helix"` or :obj:`"distance"`. (default: :obj:`"auto"`)
        magnetic_field (float, optional): Solenoid field along :math:`+z` in
            tesla, for the helix radius. (default: :obj:`1.4`, the sPHENIX
            field)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`, particle_id :math:`(|V|)`,
          particles :math:`(P, 13)`
        - **output:** :math:`(|V|)`

    Returns:
        A float64 key per hit, increasing along each track.
    """
    if rule not in ORDER_RULES:
        raise ValueError(f"Expected 'rule' in {ORDER_RULES}, got '{rule}'")
    pos = data.pos.double()
    particles = getattr(data, "particles", None)
    if rule == "auto":
        rule = "helix" if particles is not None else "r"

    if rule == "r":
        return torch.hypot(pos[:, 0], pos[:, 1])
    if rule == "distance":
        return pos.norm(dim=1)
    if particles is None:
        raise ValueError(
            "Expected 'data.particles' with production vertices and momenta "
            "for the 'helix' order rule; use rule='r' for events without it"
        )
    if not magnetic_field > 0:
        raise ValueError(f"Expected a positive 'magnetic_field' in tesla, got {magnetic_field}")
    return _helix_order(pos, data.particle_id, particles.double(), magnetic_field)


def _helix_order(
    pos: Tensor, particle_id: Tensor, particles: Tensor, magnetic_field: float
) -> Tensor:
    key = torch.hypot(pos[:, 0], pos[:, 1])
    track = particle_id > 0
    if not track.any():
        return key
    max_id = int(particle_id.max())
    if particles.dim() != 2 or particles.size(0) < max_id:
        raise ValueError(
            f"Expected 'particles' with a row for every particle id up to "
            f"{max_id}, got shape {list(particles.shape)}"
        )

    # Row i of the particle table describes particle id i + 1.
    row = particles[particle_id[track] - 1]
    dx = pos[track, 0] - row[:, _VX]
    dy = pos[track, 1] - row[:, _VY]
    chord = torch.atan2(dy, dx)
    initial = torch.atan2(row[:, _PY], row[:, _PX])
    sense = -torch.sign(row[:, _CHARGE])

    # Half the turning angle, in [-pi/2, 3pi/2), so that a hit pulled just
    # behind the vertex by smearing stays on the outgoing leg.
    shifted = torch.remainder(sense * (chord - initial) + math.pi / 2, 2 * math.pi)
    half_turn = shifted - math.pi / 2
    returning = half_turn >= math.pi / 2

    # Turn number: the turning angle implied by z, (z - vz) / (R cot(theta)),
    # against the one from the chord direction, 2 * half_turn.
    pt = torch.hypot(row[:, _PX], row[:, _PY])
    radius = 100.0 * pt / (_GEV_PER_TESLA_METRE * row[:, _CHARGE].abs() * magnetic_field)
    pitch = radius * row[:, _PZ] / pt.clamp_min(1e-12)  # z advance per radian
    resolved = 2 * math.pi * pitch.abs() >= _MIN_TURN_PITCH
    angle_from_z = (pos[track, 2] - row[:, _VZ]) / torch.where(resolved, pitch, 1.0)
    turn = torch.round((angle_from_z - 2 * half_turn) / (2 * math.pi)).clamp_min(0)
    turn = torch.where(resolved, turn, 0.0)

    distance = torch.hypot(dx, dy)
    leg_key = torch.where(returning, _LEG_OFFSET - distance, distance)
    key[track] = 2 * _LEG_OFFSET * turn + leg_key
    return key


def truth_edges(
    particle_id: Tensor, pos: Tensor, order: Tensor | None = None
) -> Tensor:
    r"""Return the truth edges of an event.

    A truth edge joins two hits of the same particle that are consecutive when
    the particle's hits are sorted by :obj:`order`, the transverse radius
    :math:`r` by default (see :func:`track_order` for keys that follow
    loopers). Hits with equal keys keep their index order. Noise hits
    (``particle_id == 0``) are never in a truth edge. Each edge points from
    the earlier hit to the later one.

    Args:
        particle_id (torch.Tensor): Truth particle of each hit, 0 for noise.
        pos (torch.Tensor): Hit positions :math:`(x, y, z)` in cm.
        order (torch.Tensor, optional): Key that increases along each track.
            (default: :obj:`None`)

    Shapes:
        - **input:** particle_id :math:`(|V|)`, pos :math:`(|V|, 3)`,
          order :math:`(|V|)`
        - **output:** edge_index :math:`(2, |E|)`

    Returns:
        A long tensor of truth edges, sorted by particle and then by key.
    """
    _check_particle_id(particle_id)
    if pos.dim() != 2 or pos.size(1) != 3 or pos.size(0) != particle_id.numel():
        raise ValueError(
            f"Expected 'pos' of shape [{particle_id.numel()}, 3], got "
            f"{list(pos.shape)}"
        )
    if order is not None and order.shape != particle_id.shape:
        raise ValueError(
            f"Expected 'order' of shape [{particle_id.numel()}], got "
            f"{list(order.shape)}"
        )
    device = particle_id.device
    if particle_id.numel() == 0:
        return torch.empty(2, 0, dtype=torch.long, device=device)

    # Sort by the key, then stably by particle: hits of a particle end up next
    # to each other in track order, ties keeping their index order.
    if order is None:
        order = torch.hypot(pos[:, 0], pos[:, 1])
    by_key = torch.sort(order.to(device), stable=True).indices
    by_particle = torch.sort(particle_id[by_key], stable=True).indices
    sequence = by_key[by_particle]

    earlier, later = sequence[:-1], sequence[1:]
    same_particle = particle_id[earlier] == particle_id[later]
    keep = same_particle & (particle_id[earlier] != 0)
    return torch.stack([earlier[keep], later[keep]], dim=0)


def edge_truth(
    edge_index: Tensor,
    particle_id: Tensor,
    true_edge_index: Tensor | None = None,
) -> Tensor:
    r"""Label candidate edges as true or false.

    By default an edge is true when both of its hits belong to the same
    non-noise particle. When :obj:`true_edge_index` is given, an edge is true
    only when it matches one of those edges in either direction (for example
    the consecutive-hit edges of :func:`truth_edges`).

    Args:
        edge_index (torch.Tensor): Candidate edges.
        particle_id (torch.Tensor): Truth particle of each hit, 0 for noise.
        true_edge_index (torch.Tensor, optional): If given, the only edges
            that count as true. (default: :obj:`None`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, particle_id :math:`(|V|)`,
          true_edge_index :math:`(2, |E_{true}|)`
        - **output:** :math:`(|E|)`

    Returns:
        A boolean tensor with one label per candidate edge.
    """
    _check_particle_id(particle_id)
    _check_edge_index(edge_index, particle_id.numel(), "edge_index")
    if true_edge_index is None:
        source, target = edge_index
        same_particle = particle_id[source] == particle_id[target]
        return same_particle & (particle_id[source] != 0)

    _check_edge_index(true_edge_index, particle_id.numel(), "true_edge_index")
    num_hits = particle_id.numel()
    candidate_keys = _undirected_keys(edge_index, num_hits)
    true_keys = _undirected_keys(true_edge_index, num_hits)
    return torch.isin(candidate_keys, true_keys)


def _undirected_keys(edge_index: Tensor, num_hits: int) -> Tensor:
    # One integer per unordered hit pair, so that (i, j) and (j, i) match.
    low = torch.minimum(edge_index[0], edge_index[1])
    high = torch.maximum(edge_index[0], edge_index[1])
    return low * num_hits + high


def _check_particle_id(particle_id: Tensor) -> None:
    if particle_id.dim() != 1:
        raise ValueError(
            f"Expected 'particle_id' of shape [num_hits], got "
            f"{list(particle_id.shape)}"
        )


def _check_edge_index(edge_index: Tensor, num_hits: int, name: str) -> None:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"Expected '{name}' of shape [2, num_edges], got "
            f"{list(edge_index.shape)}"
        )
    if edge_index.numel() > 0 and (
        edge_index.min() < 0 or edge_index.max() >= num_hits
    ):
        raise ValueError(
            f"Expected '{name}' entries in [0, {num_hits - 1}], got values in "
            f"[{int(edge_index.min())}, {int(edge_index.max())}]"
        )
