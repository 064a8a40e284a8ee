r"""Step-by-step transport of charged particles through the TPC gas.

:func:`transport` moves every particle of an event at once, one pad-row
crossing per step, with the helix and material models of
:mod:`fm4npp_geo.data.propagation`.
"""

from __future__ import annotations

import math

import numpy as np

from fm4npp_geo.data.energy_loss import ARGON_GAS, GasMedium, bethe_bloch
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.propagation import (
    MIN_BETA_GAMMA,
    TrackCrossings,
    helix_radius,
    highland_angle,
    next_crossing_angle,
    row_path_length,
)

#: Offsets, relative to the row at or below the particle, of the rows whose
#: cylinders can be crossed next: the particle sits on or between rows
#: ``floor`` and ``floor + 1``, so it reaches no other row first.
_CANDIDATE_OFFSETS = np.array([-1, 0, 1, 2])

#: Smallest cosine of the crossing angle used for the path through the thin
#: gas gap at the inner field cage, which bounds that path for grazing tracks.
_MIN_COS_ANGLE = 0.1

#: GeV per keV, to apply a stopping power in keV / cm to momenta in GeV.
_GEV_PER_KEV = 1e-6


def _check_inputs(vertex: np.ndarray, momentum: np.ndarray,
                  charge: np.ndarray, mass: np.ndarray,
                  max_turns: float) -> None:
    sizes = (vertex.shape[0], momentum.shape[0], charge.shape[0],
             mass.shape[0])
    if len(set(sizes)) > 1:
        raise ValueError(f"Expected as many vertices, momenta, charges and "
                         f"masses, got {sizes}")
    if np.any(charge == 0):
        raise ValueError("Expected charged particles only, got charge 0 "
                         "(neutral particles leave no hits)")
    if np.any(~(mass > 0)):
        raise ValueError(f"Expected positive masses in GeV, got minimum "
                         f"{mass.min()}")
    if not max_turns > 0:
        raise ValueError(f"Expected a positive 'max_turns', got {max_turns}")


def _scatter(direction: np.ndarray, theta0: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    # Deflect unit vectors d by two independent Gaussian projected angles of
    # width theta0 along e1 = z x d / |z x d| and e2 = d x e1, written out by
    # component because this runs once per step. A particle moving along z
    # uses e1 = x and e2 = d x x instead.
    angle1, angle2 = rng.standard_normal((2, direction.shape[0])) * theta0
    dx, dy, dz = direction[:, 0], direction[:, 1], direction[:, 2]
    transverse = np.hypot(dx, dy)
    along_z = transverse < 1e-12
    safe = np.where(along_z, 1.0, transverse)
    e1x = np.where(along_z, 1.0, -dy / safe)
    e1y = np.where(along_z, 0.0, dx / safe)
    e2x = np.where(along_z, 0.0, -dz * dx / safe)
    e2y = np.where(along_z, dz, -dz * dy / safe)
    e2z = np.where(along_z, -dy, transverse)
    bent = np.stack([
        dx + angle1 * e1x + angle2 * e2x,
        dy + angle1 * e1y + angle2 * e2y,
        dz + angle2 * e2z,
    ], axis=1)
    return bent / np.sqrt(np.sum(bent * bent, axis=1, keepdims=True))


def transport(
    vertex: np.ndarray,
    momentum: np.ndarray,
    charge: np.ndarray,
    mass: np.ndarray,
    geometry: TPCGeometry,
    rng: np.random.Generator,
    medium: GasMedium = ARGON_GAS,
    energy_loss: bool = True,
    multiple_scattering: bool = True,
    max_turns: float = 1.0,
) -> TrackCrossings:
    r"""Transport charged particles through the pad rows and record every
    crossing.

    Each step follows the helix to the nearest neighbouring row cylinder
    (see :func:`~fm4npp_geo.data.propagation.next_crossing_angle`). Over the
    gas path of the step the particle loses the mean Bethe-Bloch energy for
    its :math:`\beta\gamma` at the start of the step, then it is deflected by
    multiple scattering with the Highland width for that path. Inside the
    inner field cage, :math:`r < \rho_0 - \Delta r_0 / 2`, there is no gas, so
    a track that leaves the first row inwards and curls back only loses
    energy in the gap between the cage and the first row.

    A particle stops when its helix reaches the outer radius
    :math:`\rho_{L-1} + \Delta r_{L-1} / 2`, when :math:`|z|` at its next
    crossing exceeds the drift length, when :math:`\beta\gamma` falls below
    :data:`~fm4npp_geo.data.propagation.MIN_BETA_GAMMA`, or when it has
    turned by more than :obj:`max_turns` full circles. Particles produced
    outside the outer radius or end caps leave no crossings.

    Args:
        vertex (np.ndarray): Production vertices in cm.
        momentum (np.ndarray): Momenta at production in GeV.
        charge (np.ndarray): Non-zero charges in units of the elementary
            charge.
        mass (np.ndarray): Masses in GeV.
        geometry (TPCGeometry): Rows, drift length and field.
        rng (np.random.Generator): Source of the scattering angles.
        medium (GasMedium, optional): The gas. (default: :data:`ARGON_GAS`)
        energy_loss (bool, optional): Apply the mean energy loss.
            (default: :obj:`True`)
        multiple_scattering (bool, optional): Apply multiple scattering.
            (default: :obj:`True`)
        max_turns (float, optional): Largest transverse turning angle in
            full circles. A primary particle that curls inside the TPC is
            back at the beam line after one turn, so 1 keeps its outgoing and
            returning legs. (default: :obj:`1.0`)

    Shapes:
        - **input:** vertex and momentum :obj:`[P, 3]`, charge and mass
          :obj:`[P]`
        - **output:** :class:`~fm4npp_geo.data.propagation.TrackCrossings`
          with one entry per crossing
    """
    vertex = np.asarray(vertex, dtype=np.float64).reshape(-1, 3)
    momentum = np.asarray(momentum, dtype=np.float64).reshape(-1, 3)
    charge = np.asarray(charge, dtype=np.float64).reshape(-1)
    mass = np.asarray(mass, dtype=np.float64).reshape(-1)
    _check_inputs(vertex, momentum, charge, mass, max_turns)

    radii, thickness = geometry.layer_radii, geometry.row_thickness
    num_layers = radii.shape[0]
    inner_wall = radii[0] - 0.5 * thickness[0]
    outer_wall = radii[-1] + 0.5 * thickness[-1]
    max_angle = 2.0 * math.pi * max_turns
    field = geometry.magnetic_field

    # 1. State of the particles still moving, compacted after every step.
    index = np.arange(vertex.shape[0])
    x, y, z = vertex.T.copy()
    px, py, pz = momentum.T.copy()
    q, m = charge.copy(), mass.copy()
    r_start = np.hypot(x, y)
    alive = ((np.hypot(px, py) > 0.0) & (r_start < outer_wall) &
             (np.abs(z) <= geometry.z_max) &
             (np.sqrt(px**2 + py**2 + pz**2) / m >= MIN_BETA_GAMMA))
    floor = np.searchsorted(radii, r_start, side='right') - 1
    on_row = np.zeros(vertex.shape[0], dtype=bool)
    turned = np.zeros(vertex.shape[0])
    state = [index, x, y, z, px, py, pz, q, m, floor, on_row, turned]
    index, x, y, z, px, py, pz, q, m, floor, on_row, turned = (
        array[alive] for array in state)

    records: list[tuple[np.ndarray, ...]] = []
    max_steps = int(2 * num_layers * math.ceil(max_turns)) + 4
    for _ in range(max_steps):
        if index.shape[0] == 0:
            break

        # 2. The nearest crossing among the neighbouring rows and the outer
        # wall. Column 4 is the wall, where the particle leaves.
        pt = np.hypot(px, py)
        p = np.sqrt(pt**2 + pz**2)
        ux, uy = px / pt, py / pt
        turn = -np.sign(q)
        radius = helix_radius(pt, q, field)
        rows = floor[:, None] + _CANDIDATE_OFFSETS
        valid = (rows >= 0) & (rows < num_layers)
        rows = np.clip(rows, 0, num_layers - 1)
        targets = np.concatenate(
            [radii[rows], np.full((index.shape[0], 1), outer_wall)], axis=1)
        angles = next_crossing_angle(x, y, ux, uy, turn, radius, targets)
        angles[:, :4][~valid] = np.inf
        choice = np.argmin(angles, axis=1)
        rows_taken = np.arange(index.shape[0])
        angle = angles[rows_taken, choice]
        stop = (choice == 4) | ~np.isfinite(angle)
        angle = np.where(stop, 0.0, angle)
        layer = rows[rows_taken, np.minimum(choice, 3)]

        # 3. Move along the helix.
        sin_t, cos_t = np.sin(angle), np.cos(angle)
        nx, ny = -uy, ux
        arc = radius * angle
        new_x = x + radius * (sin_t * ux + turn * (1.0 - cos_t) * nx)
        new_y = y + radius * (sin_t * uy + turn * (1.0 - cos_t) * ny)
        new_z = z + arc * pz / pt
        new_ux = cos_t * ux + turn * sin_t * nx
        new_uy = cos_t * uy + turn * sin_t * ny
        total_angle = turned + angle
        stop |= (np.abs(new_z) > geometry.z_max) | (total_angle > max_angle)

        # 4. Gas path of the step: all of it, except across the inner
        # field cage, where only the gap to the first row is gas.
        path = arc * p / pt
        crossing_cos = np.abs(new_x * new_ux + new_y * new_uy) / radii[layer]
        gap = ((radii[0] - inner_wall) * p / pt /
               np.maximum(crossing_cos, _MIN_COS_ANGLE))
        moving_in = x * ux + y * uy < 0.0
        from_inside = np.hypot(x, y) < inner_wall
        dips_inside = on_row & (floor == 0) & (layer == 0) & moving_in
        gas = np.where(from_inside, np.minimum(gap, path), path)
        gas = np.where(dips_inside, np.minimum(2.0 * gap, path), gas)

        # 5. Energy loss on the way to the crossing.
        if energy_loss:
            dedx = bethe_bloch(p / m, m, q, medium)
            energy = np.sqrt(p**2 + m**2) - dedx * gas * _GEV_PER_KEV
            new_p = np.sqrt(np.maximum(energy**2 - m**2, 0.0))
            stop |= new_p / m < MIN_BETA_GAMMA
        else:
            new_p = p
        direction = np.stack(
            [new_ux * pt / p, new_uy * pt / p, pz / p], axis=1)

        # 6. Record the crossings of the particles that get there.
        keep = ~stop
        pos = np.stack([new_x, new_y, new_z], axis=1)
        records.append((index[keep], layer[keep], pos[keep], direction[keep],
                        new_p[keep] / m[keep], total_angle[keep]))

        # 7. Multiple scattering at the crossing, then the next state.
        # NOTE: Highland's log term is not additive, so applying it per
        # step of about 1 cm gives a width about 20% below that of one
        # formula over 40 cm of argon.
        if multiple_scattering:
            beta = new_p / np.sqrt(new_p**2 + m**2)
            theta0 = highland_angle(np.maximum(new_p, 1e-12),
                                    np.maximum(beta, 1e-12), q,
                                    gas / medium.radiation_length_cm)
            direction = _scatter(direction, theta0, rng)
        new_momentum = direction * new_p[:, None]
        state = [index, new_x, new_y, new_z, new_momentum[:, 0],
                 new_momentum[:, 1], new_momentum[:, 2], q, m, layer,
                 np.ones_like(on_row), total_angle]
        index, x, y, z, px, py, pz, q, m, floor, on_row, turned = (
            array[keep] for array in state)

    return _collect(records, radii, thickness)


def _collect(records: list[tuple[np.ndarray, ...]], radii: np.ndarray,
             thickness: np.ndarray) -> TrackCrossings:
    if records:
        particle, layer, pos, direction, beta_gamma, turning = (
            np.concatenate(column) for column in zip(*records))
    else:
        particle = layer = np.zeros(0, dtype=np.int64)
        pos = direction = np.zeros((0, 3))
        beta_gamma = turning = np.zeros(0)
    # Steps run over all particles at once; a stable sort groups each
    # particle's crossings in the order they happened.
    order = np.argsort(particle, kind='stable')
    particle, layer = particle[order], layer[order]
    pos, direction = pos[order], direction[order]
    return TrackCrossings(
        particle=particle.astype(np.int64),
        layer=layer.astype(np.int64),
        pos=pos,
        direction=direction,
        beta_gamma=beta_gamma[order],
        path_length=row_path_length(pos, direction, radii[layer],
                                    thickness[layer]),
        turning_angle=turning[order],
    )
