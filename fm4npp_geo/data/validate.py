r"""Checks of one event against the library's event schema, run by every
reader and dataset before an event reaches a transform or a model.

A check that fails raises :class:`InvalidEventError` naming the event (its
file and index when known), the attribute and the offending value, so that
bad input stops at the boundary instead of turning into a silently wrong
number later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

from fm4npp_geo.data.geometry import TPCGeometry

logger = logging.getLogger(__name__)

#: Largest PID class (0 other, 1 pion, 2 kaon, 3 proton, 4 electron).
MAX_PID_CLASS = 4

#: Attributes every event must have.
REQUIRED = ('pos', 'energy', 'layer')

#: Handling of hits outside the detector volume: reject the event or drop
#: the hits.
OUT_OF_VOLUME = ('raise', 'drop')

# Per-hit attributes of the event schema: dtype kind and the shape after the
# hit dimension (None: any size).
_PER_HIT: dict[str, tuple[str, tuple[int | None, ...]]] = {
    'pos': ('float', (3, )),
    'energy': ('float', ()),
    'layer': ('int', ()),
    'x': ('float', (None, )),
    'particle_id': ('int', ()),
    'pid_label': ('int', ()),
    'noise_label': ('bool', ()),
    'particle_pt': ('float', ()),
    'particle_eta': ('float', ()),
    'order': ('int', ()),
    'track_id': ('int', ()),
    'hit_id': ('int', ()),
    'weight': ('float', ()),
    'particle_vertex_r': ('float', ()),
    'particle_charge': ('float', ()),
    'is_primary': ('bool', ()),
}

# Attributes computed from all hits of an event together, which dropping a
# hit makes stale.
_WHOLE_EVENT = ('order', 'edge_index', 'edge_y', 'edge_attr', 'knnn_target',
                'knnn_mask')

# Tensors whose first dimension is not the hit dimension.
_NOT_PER_HIT = ('particles', ) + _WHOLE_EVENT


class InvalidEventError(ValueError):
    r"""An event that breaks the event schema: a missing attribute, a wrong
    shape or dtype, a value that is not finite or out of range, or a hit
    outside the detector volume."""


@dataclass(frozen=True)
class DetectorVolume:
    r"""A hollow cylinder around the beam (the z axis) that must contain
    every hit: :math:`r_{min} \le r \le r_{max}` and
    :math:`|z| \le z_{max}`, in cm.

    Args:
        r_min (float): Smallest transverse radius in cm.
        r_max (float): Largest transverse radius in cm.
        z_max (float): Largest :math:`|z|` in cm.
    """

    r_min: float
    r_max: float
    z_max: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.r_min < self.r_max:
            raise ValueError(f"Expected 0 <= r_min < r_max in cm, got "
                             f"r_min={self.r_min} and r_max={self.r_max}")
        if not self.z_max > 0.0:
            raise ValueError(f"Expected a positive z_max in cm, got "
                             f"{self.z_max}")

    @classmethod
    def from_geometry(cls, geometry: TPCGeometry) -> DetectorVolume:
        r"""Return the volume of the TPC's pad rows: from the inner edge of
        the first row to the outer edge of the last, over the drift
        length."""
        edges = geometry.group_edges
        return cls(float(edges[0]), float(edges[-1]), float(geometry.z_max))

    def __str__(self) -> str:
        return (f"{self.r_min:g} <= r <= {self.r_max:g} cm, "
                f"|z| <= {self.z_max:g} cm")


def _describe(source: str | None, index: int | None) -> str:
    if source is None and index is None:
        return 'Event'
    if source is None:
        return f'Event {index}'
    if index is None:
        return f"Event of '{source}'"
    return f"Event {index} of '{source}'"


def _kind(tensor: Tensor) -> str:
    if tensor.dtype == torch.bool:
        return 'bool'
    if tensor.is_floating_point():
        return 'float'
    if tensor.is_complex():
        return 'complex'
    return 'int'


_DTYPE_WORDS = {'float': 'a floating-point dtype (torch.float32)',
                'int': 'an integer dtype (torch.long)',
                'bool': 'torch.bool'}


def _first(mask: Tensor) -> int:
    return int(mask.reshape(mask.shape[0], -1).any(dim=1).nonzero()[0, 0])


class _Checker:
    # Collects the context of the event so that every message names it.
    def __init__(self, data: Data, where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, key: str, problem: str, expected: str) -> None:
        raise InvalidEventError(f"{self.where}: '{key}' {problem}; expected "
                                f"{expected}")

    def per_hit(self, key: str, num_hits: int) -> Tensor | None:
        value = getattr(self.data, key, None)
        if value is None:
            return None
        kind, trailing = _PER_HIT[key]
        if not isinstance(value, Tensor):
            self.fail(key, f"is a {type(value).__name__}",
                      f"a tensor of {num_hits} rows")
        expected_dims = 1 + len(trailing)
        shape = tuple(value.shape)
        shape_ok = (len(shape) == expected_dims and shape[0] == num_hits
                    and all(want is None or got == want
                            for got, want in zip(shape[1:], trailing)))
        if not shape_ok:
            words = ', '.join(['num_hits'] + ['F' if want is None else
                                              str(want) for want in trailing])
            self.fail(key, f"has shape {list(shape)}",
                      f"[{words}] with num_hits = {num_hits} (the rows of "
                      f"'pos')")
        if _kind(value) != kind:
            self.fail(key, f"has dtype {value.dtype}", _DTYPE_WORDS[kind])
        if kind == 'float':
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                hit = _first(~finite)
                bad = value[hit].flatten()[~finite[hit].flatten()][0]
                self.fail(key, f"contains {bad.item()} at hit {hit}",
                          "finite values")
        return value

    def in_range(self, key: str, value: Tensor, low: float | None,
                 high: float | None, meaning: str) -> None:
        bad = torch.zeros(value.shape, dtype=torch.bool)
        if low is not None:
            bad |= value < low
        if high is not None:
            bad |= value > high
        if bool(bad.any()):
            hit = _first(bad)
            self.fail(key, f"contains {value[hit].item()} at hit {hit}",
                      meaning)


def _check_order(check: _Checker, order: Tensor, num_hits: int) -> None:
    check.in_range('order', order, 0, num_hits - 1,
                   f"hit indices in [0, {num_hits}) local to the event")
    counts = torch.bincount(order, minlength=num_hits)
    if bool((counts != 1).any()):
        repeated = int((counts > 1).nonzero()[0, 0])
        check.fail('order', f"lists hit {repeated} {int(counts[repeated])} "
                   f"times", "a permutation of the event's hits; apply the "
                   "serialization transform again")


def _check_edges(check: _Checker, data: Data, num_hits: int) -> None:
    edge_index = getattr(data, 'edge_index', None)
    if edge_index is None:
        return
    if (edge_index.dim() != 2 or edge_index.size(0) != 2
            or _kind(edge_index) != 'int'):
        check.fail('edge_index', f"has shape {list(edge_index.shape)} and "
                   f"dtype {edge_index.dtype}", "an integer tensor of shape "
                   "[2, num_edges]")
    bad = (edge_index < 0) | (edge_index >= num_hits)
    if bool(bad.any()):
        edge = int(bad.any(dim=0).nonzero()[0, 0])
        check.fail('edge_index', f"contains the edge "
                   f"{edge_index[:, edge].tolist()} (edge {edge})",
                   f"hit indices in [0, {num_hits})")
    edge_y = getattr(data, 'edge_y', None)
    if edge_y is not None and tuple(edge_y.shape[:1]) != (
            edge_index.size(1), ):
        check.fail('edge_y', f"has shape {list(edge_y.shape)}",
                   f"one entry per edge, [{edge_index.size(1)}]")


def _outside(pos: Tensor, volume: DetectorVolume,
             tolerance: float) -> Tensor:
    pos = pos.double()
    radius = torch.hypot(pos[:, 0], pos[:, 1])
    return ((radius < volume.r_min - tolerance)
            | (radius > volume.r_max + tolerance)
            | (pos[:, 2].abs() > volume.z_max + tolerance))


def _drop_hits(data: Data, keep: Tensor) -> Data:
    num_hits = keep.numel()
    subset = Data()
    for key, value in data:
        if key in _WHOLE_EVENT:
            continue
        per_hit = (key in _PER_HIT or (
            isinstance(value, Tensor) and key not in _NOT_PER_HIT
            and value.dim() > 0 and value.size(0) == num_hits))
        subset[key] = value[keep] if per_hit else value
    subset.num_nodes = int(keep.sum())
    return subset


def validate_event(
    data: Data,
    source: str | None = None,
    index: int | None = None,
    volume: DetectorVolume | None = None,
    tolerance: float = 1.0,
    out_of_volume: str = 'raise',
    num_layers: int | None = None,
) -> Data:
    r"""Check one event against the event schema and the detector volume.

    The checks, in order:

    1. ``pos`` [N, 3], ``energy`` [N] and ``layer`` [N] are present; N is
       the event's hit count and must equal ``data.num_nodes``.
    2. Every per-hit attribute of the schema that is present has N rows and
       the dtype kind of the schema: floating point, integer or bool.
       Floating-point values must be finite. The per-hit attributes are
       ``x``, ``particle_id``, ``pid_label``, ``noise_label``,
       ``particle_pt``, ``particle_eta``, ``order``, ``track_id``,
       ``hit_id``, ``weight``, ``particle_vertex_r``, ``particle_charge``
       and ``is_primary``.
    3. Labels are in range: ``layer`` in [0, :obj:`num_layers`) (or
       non-negative), ``particle_id`` >= 0 (0 is noise), ``pid_label`` in
       [0, 4], ``particle_pt`` and ``weight`` >= 0, ``order`` a permutation
       of the hits, ``edge_index`` [2, E] within the hits and ``edge_y`` [E].
    4. With a :obj:`volume`, every hit lies inside it, widened by
       :obj:`tolerance` on every side. A hit outside raises, or with
       ``out_of_volume="drop"`` is removed together with its entry in every
       per-hit attribute, and the count is logged. Dropping also removes the
       attributes computed from the whole event (``order``, ``edge_index``,
       ``edge_y``, ``edge_attr``, ``knnn_target``, ``knnn_mask``), which
       must then be computed again, and leaves ``particles`` unchanged.

    Args:
        data (Data): The event.
        source (str, optional): File or folder the event came from, for
            messages. (default: :obj:`None`)
        index (int, optional): Index of the event in :obj:`source`, for
            messages. (default: :obj:`None`)
        volume (DetectorVolume, optional): Volume that must contain every
            hit; no position check when :obj:`None`. (default: :obj:`None`)
        tolerance (float, optional): Margin in cm added to the volume on
            every side. (default: :obj:`1.0`)
        out_of_volume (str, optional): ``"raise"`` or ``"drop"``.
            (default: :obj:`"raise"`)
        num_layers (int, optional): Number of detector layers; ``layer``
            must be below it. (default: :obj:`None`)

    Returns:
        Data: :obj:`data` itself, or a copy without the dropped hits.

    Raises:
        InvalidEventError: If a check fails. The message names the event,
            the attribute and the offending value.
        ValueError: If :obj:`out_of_volume` or :obj:`tolerance` is invalid.
    """
    if out_of_volume not in OUT_OF_VOLUME:
        raise ValueError(f"Expected out_of_volume to be one of "
                         f"{OUT_OF_VOLUME}, got {out_of_volume!r}")
    if not tolerance >= 0.0:
        raise ValueError(f"Expected a non-negative tolerance in cm, got "
                         f"{tolerance}")
    check = _Checker(data, _describe(source, index))

    # 1. Required attributes and the hit count.
    for key in REQUIRED:
        if getattr(data, key, None) is None:
            check.fail(key, "is missing", f"the attributes {list(REQUIRED)} "
                       f"of every event")
    pos = data.pos
    if not isinstance(pos, Tensor) or pos.dim() != 2:
        check.fail('pos', f"has shape {list(getattr(pos, 'shape', []))}",
                   "[num_hits, 3] positions in cm")
    num_hits = pos.size(0)
    if data.num_nodes != num_hits:
        check.fail('num_nodes', f"is {data.num_nodes}",
                   f"the {num_hits} rows of 'pos'")

    # 2. Shapes, dtypes and finite values.
    values = {key: check.per_hit(key, num_hits) for key in _PER_HIT}

    # 3. Label ranges.
    high_layer = None if num_layers is None else num_layers - 1
    check.in_range('layer', values['layer'], 0, high_layer,
                   "a layer index in [0, num_layers)" if num_layers is None
                   else f"a layer index in [0, {num_layers})")
    if values['particle_id'] is not None:
        check.in_range('particle_id', values['particle_id'], 0, None,
                       "a particle id >= 0, with 0 for noise")
    if values['pid_label'] is not None:
        check.in_range('pid_label', values['pid_label'], 0, MAX_PID_CLASS,
                       "a PID class in [0, 4] (0 other, 1 pion, 2 kaon, "
                       "3 proton, 4 electron)")
    for key in ('particle_pt', 'weight'):
        if values[key] is not None:
            check.in_range(key, values[key], 0.0, None, "values >= 0")
    if values['order'] is not None:
        _check_order(check, values['order'], num_hits)
    _check_edges(check, data, num_hits)

    # 4. Detector volume.
    if volume is None or num_hits == 0:
        return data
    outside = _outside(pos, volume, tolerance)
    if not bool(outside.any()):
        return data
    if out_of_volume == 'raise':
        hit = int(outside.nonzero()[0, 0])
        x, y, z = pos[hit].double().tolist()
        others = int(outside.sum()) - 1
        check.fail('pos', f"puts hit {hit} at r = {(x * x + y * y) ** 0.5:g} "
                   f"cm, z = {z:g} cm, outside the detector volume "
                   f"({volume}, tolerance {tolerance:g} cm)"
                   + (f", as do {others} more hit(s)" if others else ""),
                   "positions in cm inside the detector; check the units "
                   "and the geometry, or drop such hits with "
                   "out_of_volume='drop'")
    logger.warning("%s: dropped %d of %d hits outside the detector volume "
                   "(%s, tolerance %g cm)", check.where, int(outside.sum()),
                   num_hits, volume, tolerance)
    return _drop_hits(data, ~outside)
