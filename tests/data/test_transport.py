import math

import numpy as np
import pytest

from fm4npp_geo.data import TPCGeometry
from fm4npp_geo.data.propagation import GEV_PER_TESLA_METRE
from fm4npp_geo.data.transport import transport

GEOMETRY = TPCGeometry()
PION_MASS = 0.13957
PROTON_MASS = 0.93827


def pt_for_radius(radius_cm):
    return GEV_PER_TESLA_METRE * GEOMETRY.magnetic_field * radius_cm / 100.0


def run(vertex, momentum, charge, mass, energy_loss=False,
        multiple_scattering=False, seed=0, **kwargs):
    return transport(np.asarray(vertex, float).reshape(-1, 3),
                     np.asarray(momentum, float).reshape(-1, 3),
                     np.atleast_1d(np.asarray(charge, float)),
                     np.atleast_1d(np.asarray(mass, float)), GEOMETRY,
                     np.random.default_rng(seed), energy_loss=energy_loss,
                     multiple_scattering=multiple_scattering, **kwargs)


def test_stiff_track_crosses_rows_once_in_order():
    out = run([0, 0, 0], [5.0, 0.0, 1.0], 1, PION_MASS)

    assert out.layer.tolist() == list(range(48))
    radius = np.hypot(out.pos[:, 0], out.pos[:, 1])
    assert np.allclose(radius, GEOMETRY.layer_radii, atol=1e-9)
    # z = r * pz / pT to first order for a nearly straight track.
    assert np.allclose(out.pos[:, 2], 0.2 * radius, rtol=1e-3)
    assert np.all(np.diff(out.turning_angle) > 0)


def test_crossings_match_analytic_circle():
    # A pi+ from the origin along +x with R = 30 cm turns clockwise around
    # (0, -30): x^2 + (y + 30)^2 = 900 meets r = rho at y = -rho^2 / 60.
    out = run([0, 0, 0], [pt_for_radius(30.0), 0, 0], 1, PION_MASS,
              max_turns=0.99)
    rho = GEOMETRY.layer_radii[out.layer]

    assert np.allclose(out.pos[:, 1], -rho**2 / 60.0, atol=1e-9)
    assert np.allclose(np.hypot(out.pos[:, 0], out.pos[:, 1]), rho)


def test_looper_hits_layers_on_both_legs():
    # R = 30 cm: the largest radius is 60 cm, so rows up to 60 cm are
    # crossed going out and again coming back.
    out = run([0, 0, 0], [pt_for_radius(30.0), 0, 0.01], 1, PION_MASS,
              max_turns=1.0)
    reached = GEOMETRY.layer_radii < 60.0
    counts = np.bincount(out.layer, minlength=48)

    assert np.all(counts[reached] == 2)
    assert np.all(counts[~reached] == 0)
    outgoing = out.turning_angle < math.pi
    assert np.all(np.diff(out.layer[outgoing]) == 1)
    assert np.all(np.diff(out.layer[~outgoing]) == -1)


def test_more_turns_give_more_loops():
    momentum = [pt_for_radius(30.0), 0, 0.001]
    once = run([0, 0, 0], momentum, -1, PION_MASS, max_turns=1.0)
    thrice = run([0, 0, 0], momentum, -1, PION_MASS, max_turns=3.0)

    assert len(thrice) == 3 * len(once)


def test_track_stops_at_end_cap():
    # Dip angle 45 degrees from z = 60 cm: z = 60 + r, so the track leaves
    # through the end cap at r = 45 cm after crossing the rows below it.
    out = run([0, 0, 60.0], [1.0, 0, 1.0], 1, PION_MASS)
    radius = np.hypot(out.pos[:, 0], out.pos[:, 1])

    assert len(out) > 0
    assert np.all(np.abs(out.pos[:, 2]) <= GEOMETRY.z_max)
    assert radius.max() < 45.0
    assert radius.max() > 45.0 - 1.5
    assert len(run([0, 0, 80.0], [1.0, 0, 1.0], 1, PION_MASS)) == 0


def test_secondary_inside_tpc_starts_from_its_vertex():
    # A particle produced at r = 50 cm moving outwards only crosses rows
    # beyond 50 cm. Moving inwards it crosses the rows below first, then the
    # beam region, and the TPC again on the far side.
    outwards = run([50.0, 0, 0], [2.0, 0, 0], 1, PION_MASS)
    inwards = run([50.0, 0, 0], [-2.0, 0, 0], 1, PION_MASS)
    below = GEOMETRY.layer_radii < 50.0

    assert np.all(GEOMETRY.layer_radii[outwards.layer] > 50.0)
    assert np.all(np.diff(outwards.layer) == 1)
    first_leg = inwards.layer[:below.sum()]
    assert first_leg.tolist() == list(range(below.sum() - 1, -1, -1))
    far_side = inwards.pos[below.sum():, 0]
    assert np.all(far_side < 0)
    assert inwards.layer[below.sum():].tolist() == list(range(48))


def test_energy_loss_slows_proton_until_it_stops():
    # A 0.25 GeV proton (beta gamma 0.27) loses momentum at every row; with
    # enough loss it ranges out before the outer rows.
    momentum = [0.25, 0, 0]
    free = run([0, 0, 0], momentum, 1, PROTON_MASS)
    slowed = run([0, 0, 0], momentum, 1, PROTON_MASS, energy_loss=True)

    assert np.allclose(free.beta_gamma, 0.25 / PROTON_MASS)
    assert np.all(np.diff(slowed.beta_gamma) < 0)
    assert slowed.beta_gamma[-1] < free.beta_gamma[-1]


def test_multiple_scattering_spread_matches_highland():
    # 2000 pions of p = 0.2 GeV crossing from the first to the last row:
    # the spread of the exit azimuth must grow with scattering and be zero
    # without it.
    count = 2000
    momentum = np.tile([[0.2, 0.0, 0.0]], (count, 1))
    vertex = np.zeros((count, 3))
    charge = np.ones(count)
    mass = np.full(count, PION_MASS)
    plain = run(vertex, momentum, charge, mass)
    scattered = run(vertex, momentum, charge, mass, multiple_scattering=True)

    def last_z(out):
        last = np.r_[np.flatnonzero(np.diff(out.particle)), len(out) - 1]
        return out.pos[last, 2]

    assert np.ptp(last_z(plain)) < 1e-9
    spread = np.std(last_z(scattered))
    # 44 cm of argon is 0.0037 X0: theta0 = 13.6 MeV / (0.82 * 200 MeV) *
    # sqrt(0.0037) * (1 + 0.038 ln(0.0037 / 0.82^2)) = 4.0 mrad summed in
    # quadrature over the steps, which underestimates the log term a little.
    # A random walk of angles gives a z spread of about
    # theta0 * L / sqrt(3) = 0.1 cm over L = 44 cm.
    assert 0.03 < spread < 0.2


def test_invalid_input_rejected():
    with pytest.raises(ValueError, match='charge 0'):
        run([0, 0, 0], [1, 0, 0], 0, PION_MASS)
    with pytest.raises(ValueError, match='positive masses'):
        run([0, 0, 0], [1, 0, 0], 1, 0.0)
    with pytest.raises(ValueError, match="positive 'max_turns'"):
        run([0, 0, 0], [1, 0, 0], 1, PION_MASS, max_turns=0.0)
