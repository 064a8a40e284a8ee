r"""Transport of charged particles through the pad rows of a TPC.

In a uniform field :math:`B` along :math:`+z` a particle of charge :math:`q`
moves on a helix whose transverse projection is a circle of radius

.. math::
    R\,[\mathrm{cm}] = \frac{100\, p_T\,[\mathrm{GeV}]}
    {0.299792458\, |q|\, B\,[\mathrm{T}]},

so a track with :math:`p_T = 1` GeV in 1.4 T has :math:`R = 238.26` cm. Seen
from :math:`+z`, a positive particle turns clockwise and a negative one
counter-clockwise (the Lorentz force :math:`q\,\vec v \times \vec B`).

:func:`transport` steps every particle from one pad-row crossing to the next.
Each step is an exact helix arc to the nearest cylinder :math:`r = \rho` of a
neighbouring row, in whichever direction the particle moves, so a low-:math:`p_T`
particle that curls inside the TPC crosses the rows again on its returning leg.
At each crossing the particle loses its mean Bethe-Bloch energy over the gas
path since the previous crossing and is deflected by multiple scattering with
the Highland width. It stops when it leaves through the outer radius or an
end cap, when it ranges out, or after a set number of turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Transverse momentum in GeV of a unit charge on a 1 m radius in a 1 T field
#: (the speed of light in units of 1e9 m/s).
GEV_PER_TESLA_METRE = 0.299792458

#: Below this beta * gamma a particle is treated as stopped: the Bethe-Bloch
#: formula is no longer valid there, and a proton has 4.7 MeV of kinetic energy
#: left, which it loses within a few cm of gas.
MIN_BETA_GAMMA = 0.1

#: Turning angles below this many radians are the particle's own position on
#: the row it sits on, not a new crossing.
_MIN_TURNING_ANGLE = 1e-9



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


def highland_angle(momentum: np.ndarray, beta: np.ndarray,
                   charge: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    r"""Return the Highland width :math:`\theta_0` in radians of the
    projected multiple-scattering angle,

    .. math::
        \theta_0 = \frac{13.6\,\mathrm{MeV}}{\beta c p}\, |z|
        \sqrt{x / X_0} \left[1 + 0.038 \ln\frac{x z^2}{X_0 \beta^2}\right],

    from the Review of Particle Physics (passage of particles through
    matter). The bracket is clipped at 0 for very thin layers.

    Args:
        momentum (np.ndarray): Momentum :math:`p` in GeV.
        beta (np.ndarray): Velocity :math:`\beta`.
        charge (np.ndarray): Charge :math:`z` in units of the elementary
            charge.
        thickness (np.ndarray): Traversed thickness :math:`x / X_0` in
            radiation lengths, non-negative.
    """
    thickness = np.maximum(np.asarray(thickness, dtype=np.float64), 1e-300)
    charge = np.abs(charge)
    log_term = np.log(thickness * charge**2 / beta**2)
    bracket = np.maximum(1.0 + 0.038 * log_term, 0.0)
    return 13.6e-3 / (beta * momentum) * charge * np.sqrt(thickness) * bracket


def next_crossing_angle(x: np.ndarray, y: np.ndarray, ux: np.ndarray,
                        uy: np.ndarray, turn: np.ndarray, radius: np.ndarray,
                        target: np.ndarray) -> np.ndarray:
    r"""Return the turning angle to the first crossing of a circle
    :math:`r = \rho` around the :math:`z` axis.

    A point on the track circle after turning by :math:`t` is
    :math:`\vec p_0 + R \sin t\, \hat u + s R (1 - \cos t)\, \hat n` for the
    start :math:`\vec p_0`, the transverse direction :math:`\hat u`, its
    left normal :math:`\hat n` and the sense :math:`s = \pm 1`. Setting its
    radius to :math:`\rho` and substituting :math:`w = \tan(t/2)` gives
    :math:`(C + 2B) w^2 + 2 a w + C = 0` with :math:`a = \vec p_0 \cdot
    \hat u`, :math:`B = R + s\, \vec p_0 \cdot \hat n` and
    :math:`C = (|\vec p_0|^2 - \rho^2) / 2R`. The quadratic keeps its
    precision for straight tracks, where :math:`R` is much larger than the
    TPC.

    Args:
        x (np.ndarray): Start :math:`x` in cm.
        y (np.ndarray): Start :math:`y` in cm.
        ux (np.ndarray): :math:`x` component of the unit transverse direction.
        uy (np.ndarray): :math:`y` component of the unit transverse direction.
        turn (np.ndarray): :math:`+1` for counter-clockwise motion seen from
            :math:`+z`, :math:`-1` for clockwise.
        radius (np.ndarray): Circle radius :math:`R` in cm.
        target (np.ndarray): Cylinder radii :math:`\rho` in cm, one column per
            candidate.

    Shapes:
        - **input:** :obj:`x` to :obj:`radius` :obj:`[P]`, :obj:`target`
          :obj:`[P, K]`
        - **output:** :obj:`[P, K]` angles in :math:`(0, 2\pi)`, :obj:`inf`
          where the circle never reaches :math:`\rho`
    """
    a = (x * ux + y * uy)[:, None]
    b = (radius + turn * (y * ux - x * uy))[:, None]
    c = (x * x + y * y)[:, None] - target**2
    c = c / (2.0 * radius[:, None])
    quad = c + 2.0 * b
    disc = a * a - c * quad
    reachable = disc >= 0.0

    with np.errstate(divide='ignore', invalid='ignore'):
        root = np.sqrt(np.where(reachable, disc, 0.0))
        q = -(a + np.where(a >= 0.0, root, -root))
        first = 2.0 * np.arctan(q / quad) % (2.0 * np.pi)
        second = 2.0 * np.arctan(c / q) % (2.0 * np.pi)
    first = np.where(first > _MIN_TURNING_ANGLE, first, np.inf)
    second = np.where(second > _MIN_TURNING_ANGLE, second, np.inf)
    angle = np.fmin(first, second)
    return np.where(reachable, angle, np.inf)


@dataclass(frozen=True)
class TrackCrossings:
    r"""Pad-row crossings of transported particles, one entry per crossing,
    in the order of the particles and then of the crossings along each track.

    Args:
        particle (np.ndarray): Index of the crossing particle, ``int64``.
        layer (np.ndarray): Crossed row, ``int64``.
        pos (np.ndarray): Crossing point :math:`(x, y, z)` in cm.
        direction (np.ndarray): Unit direction of motion at the crossing.
        beta_gamma (np.ndarray): :math:`\beta\gamma` of the particle at the
            crossing, after its energy loss on the way there.
        path_length (np.ndarray): Three-dimensional path through the row in
            cm, with the track taken as straight across the row.
        turning_angle (np.ndarray): Transverse turning angle from the
            production vertex to the crossing in radians; above :math:`\pi`
            for a primary on its returning leg.

    Shapes:
        :obj:`pos` and :obj:`direction` are :obj:`[H, 3]`; the other fields
        are :obj:`[H]`.
    """

    particle: np.ndarray
    layer: np.ndarray
    pos: np.ndarray
    direction: np.ndarray
    beta_gamma: np.ndarray
    path_length: np.ndarray
    turning_angle: np.ndarray

    def __len__(self) -> int:
        return self.particle.shape[0]


def row_path_length(pos: np.ndarray, direction: np.ndarray,
                    layer_radii: np.ndarray,
                    row_thickness: np.ndarray) -> np.ndarray:
    r"""Return the three-dimensional path in cm through a row of radial
    thickness :math:`\Delta r` around radius :math:`\rho`, for a straight
    track crossing it at :obj:`pos` with :obj:`direction`.

    With the impact parameter :math:`b = \rho \sin\alpha` of the crossing,
    the transverse path is :math:`\sqrt{r_+^2 - b^2} -
    \sqrt{\max(r_-^2 - b^2, 0)}` for :math:`r_\pm = \rho \pm \Delta r / 2`,
    scaled by :math:`p / p_T`.

    Shapes:
        :obj:`pos` and :obj:`direction` :obj:`[H, 3]`, the radii and
        thicknesses of the crossed rows :obj:`[H]`, output :obj:`[H]`.
    """
    transverse = np.maximum(np.hypot(direction[:, 0], direction[:, 1]), 1e-12)
    cos_angle = np.abs(pos[:, 0] * direction[:, 0] +
                       pos[:, 1] * direction[:, 1]) / (transverse *
                                                       layer_radii)
    impact2 = layer_radii**2 * (1.0 - np.minimum(cos_angle, 1.0)**2)
    outer2 = (layer_radii + 0.5 * row_thickness)**2
    inner2 = (layer_radii - 0.5 * row_thickness)**2
    path = (np.sqrt(np.maximum(outer2 - impact2, 0.0)) -
            np.sqrt(np.maximum(inner2 - impact2, 0.0)))
    return path / transverse
