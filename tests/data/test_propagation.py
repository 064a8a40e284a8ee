import math

import numpy as np
import pytest

from fm4npp_geo.data import TPCGeometry
from fm4npp_geo.data.propagation import helix_radius, propagate_to_layers

FIELD = 1.4
# Transverse momentum in GeV of a unit charge on a 50 cm circle in 1.4 T.
PT_50CM = 0.299792458 * FIELD * 0.5


def propagate(vertex, momentum, charge, radii, z_max=105.0, thickness=1.0):
    radii = np.asarray(radii, dtype=float)
    return propagate_to_layers(
        vertex=np.asarray(vertex, dtype=float).reshape(-1, 3),
        momentum=np.asarray(momentum, dtype=float).reshape(-1, 3),
        charge=np.atleast_1d(np.asarray(charge, dtype=float)),
        layer_radii=radii,
        row_thickness=np.full_like(radii, thickness),
        z_max=z_max,
        magnetic_field=FIELD,
    )


def test_helix_radius_of_1_gev_track():
    # 100 / (0.299792458 * 1.4) = 238.2599 cm.
    assert helix_radius(1.0, 1.0, 1.4) == pytest.approx(238.26, abs=0.01)
    assert helix_radius(1.0, -1.0, 1.4) == pytest.approx(238.26, abs=0.01)
    assert helix_radius(1.0, 2.0, 1.4) == pytest.approx(119.13, abs=0.01)


def test_crossing_matches_hand_computed_circles():
    # A positive track from the origin along +x with R = 50 cm turns
    # clockwise around (0, -50). Intersecting with x^2 + y^2 = rho^2:
    #   rho = 30: 100 y + 2500 = 1600, so y = -9 and x = sqrt(819);
    #   rho = 60: 100 y + 2500 = -1100, so y = -36 and x = 48;
    #   rho = 110 > 2 R is out of reach.
    # At (48, -36) the turning angle is atan2(2400, 700) = asin(0.96), so the
    # arc length is 50 asin(0.96) = 64.350 cm and z = 0.5 * 64.350 = 32.175.
    out = propagate([0, 0, 0], [PT_50CM, 0, 0.5 * PT_50CM], 1, [30, 60, 110])

    assert out.mask[0].tolist() == [True, True, False]
    assert out.pos[0, 0, :2] == pytest.approx([math.sqrt(819), -9.0])
    assert out.pos[0, 1] == pytest.approx([48.0, -36.0, 32.175], abs=1e-3)
    assert out.arc_length[0, 1] == pytest.approx(50 * math.asin(0.96))

    # The direction at (48, -36) is (0.28, -0.96) and the radial direction
    # (0.8, -0.6), so cos(alpha) = 0.8. A 1 cm row is crossed over
    # sqrt(60.5^2 - 36^2) - sqrt(59.5^2 - 36^2) = 1.2500 cm transverse, times
    # p / pT = sqrt(1.25).
    assert out.cos_crossing_angle[0, 1] == pytest.approx(0.8)
    assert out.path_length[0, 1] == pytest.approx(1.25 * math.sqrt(1.25),
                                                  rel=1e-4)


def test_charge_sign_sets_bending_direction():
    # Seen from +z with B along +z, a positive particle turns clockwise
    # (towards -y when moving along +x) and a negative one counter-clockwise.
    out = propagate([[0, 0, 0], [0, 0, 0]],
                    [[PT_50CM, 0, 0], [PT_50CM, 0, 0]], [1, -1], [60])

    assert out.pos[0, 0, :2] == pytest.approx([48.0, -36.0])
    assert out.pos[1, 0, :2] == pytest.approx([48.0, 36.0])


def test_crossings_lie_on_cylinders_and_helix():
    rng = np.random.default_rng(7)
    num = 200
    vertex = np.column_stack(
        [rng.normal(0, 2, (num, 2)), rng.normal(0, 10, num)])
    pt = rng.uniform(0.07, 3.0, num)
    phi = rng.uniform(-np.pi, np.pi, num)
    momentum = np.column_stack(
        [pt * np.cos(phi), pt * np.sin(phi), pt * rng.uniform(-1.5, 1.5, num)])
    charge = rng.choice([-1.0, 1.0], num)
    radii = TPCGeometry().layer_radii
    out = propagate(vertex, momentum, charge, radii)

    particle_index, layer_index = np.nonzero(out.mask)
    assert particle_index.size > 1000
    hit = out.pos[particle_index, layer_index]
    assert np.allclose(np.hypot(hit[:, 0], hit[:, 1]), radii[layer_index])
    assert np.all(np.abs(hit[:, 2]) <= 105.0)

    # Independent parametrization: with turning sense h = -q, the helix at
    # transverse arc length s is x0 + (R / h) [sin(phi0 + h s / R) -
    # sin(phi0), cos(phi0) - cos(phi0 + h s / R)], z0 + s pz / pT.
    s = out.arc_length[particle_index, layer_index]
    h = -charge[particle_index]
    radius = helix_radius(pt[particle_index], 1.0, FIELD)
    phi0 = phi[particle_index]
    psi = phi0 + h * s / radius
    x0, y0, z0 = vertex[particle_index].T
    slope = momentum[particle_index, 2] / pt[particle_index]
    expected_x = x0 + radius / h * (np.sin(psi) - np.sin(phi0))
    expected_y = y0 + radius / h * (np.cos(phi0) - np.cos(psi))
    expected_z = z0 + s * slope
    assert np.allclose(hit[:, 0], expected_x, atol=1e-6)
    assert np.allclose(hit[:, 1], expected_y, atol=1e-6)
    assert np.allclose(hit[:, 2], expected_z, atol=1e-6)

    # Every recorded crossing moves outwards.
    direction = np.column_stack([np.cos(psi), np.sin(psi)])
    assert np.all(np.sum(hit[:, :2] * direction, axis=1) > 0)


def test_low_pt_track_stops_at_its_reach():
    # R = 18 cm from the origin reaches r = 36 cm at most.
    geometry = TPCGeometry()
    pt = 0.299792458 * FIELD * 0.18
    out = propagate([0, 0, 0], [0, pt, 0], 1, geometry.layer_radii)

    reachable = geometry.layer_radii < 36.0
    assert out.mask[0].tolist() == reachable.tolist()
    assert reachable.sum() == 9


def test_z_cut_drops_later_crossings():
    out = propagate([0, 0, 0], [PT_50CM, 0, 0.5 * PT_50CM], 1, [30, 60],
                    z_max=30.0)

    # z = 15.23 cm at rho = 30 and 32.18 cm at rho = 60.
    assert out.mask[0].tolist() == [True, False]


def test_displaced_vertex_records_only_outgoing_leg():
    # A stiff track starting at r = 50 cm and moving outwards crosses only
    # the rows outside 50 cm on its outgoing leg.
    out = propagate([50, 0, 0], [2.0, 0, 0], 1, [40, 45, 55, 60])

    assert out.mask[0].tolist() == [False, False, True, True]


def test_inward_start_records_exit_on_far_side():
    # A stiff track starting at r = 50 cm and moving inwards passes near the
    # axis; its inward crossings are skipped and the outgoing ones lie at
    # x < 0.
    out = propagate([50, 0, 0], [-2.0, 0, 0], 1, [40, 45, 55, 60])

    assert out.mask[0].all()
    assert np.all(out.pos[0, :, 0] < -39.0)


def test_track_along_beam_has_no_crossings():
    out = propagate([0, 0, 0], [0, 0, 5.0], 1, [30, 60])

    assert not out.mask.any()


def test_stiff_track_is_nearly_straight():
    out = propagate([0, 0, 0], [1000.0, 0, 1000.0], -1, [30, 60])

    assert out.mask[0].all()
    assert out.pos[0, :, 0] == pytest.approx([30.0, 60.0], abs=1e-3)
    assert out.pos[0, :, 2] == pytest.approx([30.0, 60.0], abs=1e-3)
    assert out.cos_crossing_angle[0] == pytest.approx([1.0, 1.0], abs=1e-6)
    assert out.path_length[0] == pytest.approx([math.sqrt(2)] * 2, rel=1e-5)


def test_neutral_particle_rejected():
    with pytest.raises(ValueError, match='charge 0'):
        propagate([0, 0, 0], [1, 0, 0], 0, [30])


def test_mismatched_inputs_rejected():
    with pytest.raises(ValueError, match='as many vertices'):
        propagate_to_layers(np.zeros((2, 3)), np.ones((1, 3)), np.ones(1),
                            np.array([30.0]), np.array([1.0]), 105.0, FIELD)
