r"""Helix propagation of charged particles to the pad-row cylinders of a TPC.

In a uniform field :math:`B` along :math:`+z` a particle of charge :math:`q`
moves on a helix whose transverse projection is a circle of radius

.. math::
    R\,[\mathrm{cm}] = \frac{100\, p_T\,[\mathrm{GeV}]}
    {0.299792458\, |q|\, B\,[\mathrm{T}]},

so a track with :math:`p_T = 1` GeV in 1.4 T has :math:`R = 238.25` cm. Seen
from :math:`+z`, a positive particle turns clockwise and a negative one
counter-clockwise (the Lorentz force :math:`q\,\vec v \times \vec B`). Each
pad row is a cylinder :math:`r = \rho` around the :math:`z` axis, so a crossing
is an intersection of the track circle with the circle of radius :math:`\rho`
around the origin, and :math:`z` follows from the transverse arc length
:math:`s` as :math:`z = z_0 + s\, p_z / p_T`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Transverse momentum in GeV of a unit charge on a 1 m radius in a 1 T field
#: (the speed of light in units of 1e9 m/s).
GEV_PER_TESLA_METRE = 0.299792458


def helix_radius(pt: np.ndarray, charge: np.ndarray,
                 magnetic_field: float) -> np.ndarray:
    r"""Return the transverse radius of curvature in cm.

    Args:
        pt (np.ndarray): Transverse momentum in GeV.
        charge (np.ndarray): Charge in units of the elementary charge.
        magnetic_field (float): Field strength in tesla.
    """
    return 100.0 * np.asarray(pt) / (GEV_PER_TESLA_METRE *
                                     np.abs(charge) * magnetic_field)


@dataclass(frozen=True)
class LayerCrossings:
    r"""Outgoing crossings of particles with the pad-row cylinders.

    Entries where :obj:`mask` is false carry no meaning.

    Args:
        pos (np.ndarray): Crossing points :math:`(x, y, z)` in cm.
        mask (np.ndarray): Whether the particle crosses the row.
        arc_length (np.ndarray): Transverse arc length from the production
            vertex to the crossing in cm.
        cos_crossing_angle (np.ndarray): Cosine of the angle between the
            transverse direction of motion and the radial direction at the
            crossing, in :math:`(0, 1]`.
        path_length (np.ndarray): Three-dimensional path length through the
            row in cm.

    Shapes:
        :obj:`pos` is :obj:`[num_particles, num_layers, 3]`; every other field
        is :obj:`[num_particles, num_layers]`.
    """

    pos: np.ndarray
    mask: np.ndarray
    arc_length: np.ndarray
    cos_crossing_angle: np.ndarray
    path_length: np.ndarray


def _turning_angle(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray,
                   by: np.ndarray, turn: np.ndarray) -> np.ndarray:
    # Angle in [0, 2 pi) from vector a to vector b, measured counter-clockwise
    # where turn is +1 and clockwise where it is -1.
    cross = ax * by - ay * bx
    dot = ax * bx + ay * by
    return np.arctan2(turn * cross, dot) % (2.0 * np.pi)


def propagate_to_layers(
    vertex: np.ndarray,
    momentum: np.ndarray,
    charge: np.ndarray,
    layer_radii: np.ndarray,
    row_thickness: np.ndarray,
    z_max: float,
    magnetic_field: float,
) -> LayerCrossings:
    r"""Find where each particle's helix crosses each pad-row cylinder.

    For every row the track circle (centre :math:`\vec c`, radius :math:`R`)
    and the row circle (centre 0, radius :math:`\rho`) meet at
    :math:`a\,\hat c \pm h\,\hat c_\perp` with :math:`D = |\vec c|`,
    :math:`a = (\rho^2 - R^2 + D^2) / 2D` and :math:`h = \sqrt{\rho^2 - a^2}`.
    One of the two points is crossed moving outwards. It is kept when the
    particle reaches it before its first point of largest radius, which is the
    outgoing leg, and when :math:`|z| \le z_{max}` there. Because :math:`z`
    changes monotonically along a helix, a track that leaves through an end
    cap records no later crossing.

    The path length through a row treats the track as a straight line across
    the row: with impact parameter :math:`b = \rho \sin\alpha` it is
    :math:`\sqrt{r_+^2 - b^2} - \sqrt{\max(r_-^2 - b^2, 0)}` in the transverse
    plane, :math:`r_\pm = \rho \pm \Delta r / 2`, scaled by :math:`p / p_T`.

    Args:
        vertex (np.ndarray): Production vertices in cm.
        momentum (np.ndarray): Momenta in GeV.
        charge (np.ndarray): Non-zero charges in units of the elementary
            charge.
        layer_radii (np.ndarray): Row centre radii in cm.
        row_thickness (np.ndarray): Radial row thicknesses in cm.
        z_max (float): Half length of the sensitive volume in cm.
        magnetic_field (float): Field along :math:`+z` in tesla.

    Shapes:
        - **input:** vertex :obj:`[P, 3]`, momentum :obj:`[P, 3]`, charge
          :obj:`[P]`, layer_radii and row_thickness :obj:`[L]`
        - **output:** :class:`LayerCrossings` with fields :obj:`[P, L]`
          (:obj:`pos` :obj:`[P, L, 3]`)
    """
    vertex = np.asarray(vertex, dtype=np.float64).reshape(-1, 3)
    momentum = np.asarray(momentum, dtype=np.float64).reshape(-1, 3)
    charge = np.asarray(charge, dtype=np.float64).reshape(-1)
    radii = np.asarray(layer_radii, dtype=np.float64).reshape(1, -1)
    thickness = np.asarray(row_thickness, dtype=np.float64).reshape(1, -1)
    if not vertex.shape[0] == momentum.shape[0] == charge.shape[0]:
        raise ValueError(
            f"Expected as many vertices, momenta and charges, got "
            f"{vertex.shape[0]}, {momentum.shape[0]} and {charge.shape[0]}")
    if np.any(charge == 0):
        raise ValueError("Expected charged particles only, got charge 0 "
                         "(neutral particles leave no hits)")
    if radii.shape != thickness.shape:
        raise ValueError(f"Expected one row thickness per layer radius, got "
                         f"{thickness.shape[1]} and {radii.shape[1]}")

    # 1. Circle of the transverse motion. `turn` is +1 for counter-clockwise
    # motion seen from +z, which is the sense of negative particles.
    x0, y0, z0 = (vertex[:, i:i + 1] for i in range(3))
    px, py, pz = (momentum[:, i:i + 1] for i in range(3))
    q = charge[:, None]
    pt = np.hypot(px, py)
    moving = pt > 0.0
    safe_pt = np.where(moving, pt, 1.0)
    radius = helix_radius(safe_pt, q, magnetic_field)
    turn = -np.sign(q)
    ux, uy = px / safe_pt, py / safe_pt
    cx = x0 - turn * radius * uy
    cy = y0 + turn * radius * ux

    # 2. Circle-circle intersection. D^2 - R^2 is expanded so that it keeps
    # its precision when R is much larger than the vertex displacement.
    dist2_minus_r2 = x0**2 + y0**2 + 2.0 * turn * radius * (y0 * ux - x0 * uy)
    dist = np.sqrt(cx**2 + cy**2)
    # A circle centred on the axis keeps a constant radius and crosses no row.
    valid_centre = moving & (dist > 1e-9)
    safe_dist = np.where(valid_centre, dist, 1.0)
    along = (radii**2 + dist2_minus_r2) / (2.0 * safe_dist)
    half_chord2 = radii**2 - along**2
    crosses = valid_centre & (half_chord2 > 0.0)
    half_chord = np.sqrt(np.where(crosses, half_chord2, 0.0))

    # 3. The outgoing point is along * c_hat - turn * half_chord * c_perp,
    # with c_perp = c_hat rotated by +90 degrees.
    centre_dir_x, centre_dir_y = cx / safe_dist, cy / safe_dist
    hit_x = along * centre_dir_x + turn * half_chord * centre_dir_y
    hit_y = along * centre_dir_y - turn * half_chord * centre_dir_x

    # 4. Turning angle from the vertex to the crossing and to the point of
    # largest radius, both in [0, 2 pi).
    start_x, start_y = x0 - cx, y0 - cy
    end_x, end_y = hit_x - cx, hit_y - cy
    angle = _turning_angle(start_x, start_y, end_x, end_y, turn)
    far_angle = _turning_angle(start_x, start_y, centre_dir_x, centre_dir_y,
                               turn)
    # NOTE: only the outgoing leg up to the largest radius is recorded, so
    # returning legs of loopers and inward crossings of secondaries that start
    # outside a row leave no hits yet.
    crosses &= angle <= far_angle

    # 5. z from the arc length, and the end-cap cut.
    arc_length = radius * angle
    hit_z = z0 + arc_length * pz / safe_pt
    crosses &= np.abs(hit_z) <= z_max

    # 6. Crossing angle and path length through the row.
    dir_x = -turn * end_y / radius
    dir_y = turn * end_x / radius
    cos_angle = np.clip((hit_x * dir_x + hit_y * dir_y) / radii, 0.0, 1.0)
    impact2 = radii**2 * (1.0 - cos_angle**2)
    outer2 = (radii + 0.5 * thickness)**2
    inner2 = (radii - 0.5 * thickness)**2
    transverse_path = (np.sqrt(np.maximum(outer2 - impact2, 0.0)) -
                       np.sqrt(np.maximum(inner2 - impact2, 0.0)))
    p_over_pt = np.sqrt(safe_pt**2 + pz**2) / safe_pt
    path_length = transverse_path * p_over_pt

    pos = np.stack(np.broadcast_arrays(hit_x, hit_y, hit_z), axis=-1)
    return LayerCrossings(
        pos=pos,
        mask=crosses,
        arc_length=np.broadcast_to(arc_length, crosses.shape).copy(),
        cos_crossing_angle=cos_angle,
        path_length=path_length,
    )
