import math

import numpy as np
import pytest

from fm4npp_geo.data.propagation import (
    helix_radius,
    highland_angle,
    next_crossing_angle,
    row_path_length,
)

FIELD = 1.4


def circle_intersections(centre, radius, rho):
    # Closed-form intersection of the track circle |p - c| = R with the
    # cylinder |p| = rho, written independently of the library.
    cx, cy = centre
    dist = math.hypot(cx, cy)
    along = (rho**2 - radius**2 + dist**2) / (2 * dist)
    half = math.sqrt(rho**2 - along**2)
    ex, ey = cx / dist, cy / dist
    return [(along * ex - half * ey, along * ey + half * ex),
            (along * ex + half * ey, along * ey - half * ex)]


def point_after(x, y, ux, uy, turn, radius, angle):
    nx, ny = -uy, ux
    return (x + radius * (math.sin(angle) * ux +
                          turn * (1 - math.cos(angle)) * nx),
            y + radius * (math.sin(angle) * uy +
                          turn * (1 - math.cos(angle)) * ny))


def test_helix_radius_of_1_gev_track():
    # 100 / (0.299792458 * 1.4) = 238.2599 cm.
    assert helix_radius(1.0, 1.0, FIELD) == pytest.approx(238.26, abs=0.01)
    assert helix_radius(1.0, -1.0, FIELD) == pytest.approx(238.26, abs=0.01)
    assert helix_radius(1.0, 2.0, FIELD) == pytest.approx(119.13, abs=0.01)


@pytest.mark.parametrize('start, direction, turn, radius', [
    ((0.0, 0.0), (1.0, 0.0), -1.0, 50.0),
    ((3.0, -2.0), (0.6, 0.8), 1.0, 35.0),
    ((31.0, 4.0), (-0.8, 0.6), -1.0, 120.0),
    ((40.0, 0.0), (0.0, 1.0), 1.0, 12.0),
])
def test_crossing_matches_circle_intersection(start, direction, turn,
                                              radius):
    x, y = start
    ux, uy = direction
    rho = np.array([[33.0, 45.0]])
    angle = next_crossing_angle(np.array([x]), np.array([y]),
                                np.array([ux]), np.array([uy]),
                                np.array([turn]), np.array([radius]), rho)[0]
    centre = (x + turn * radius * -uy, y + turn * radius * ux)

    for target, value in zip(rho[0], angle):
        if not np.isfinite(value):
            # Unreachable: the track circle stays inside or outside rho.
            dist = math.hypot(*centre)
            assert dist + radius < target or abs(dist - radius) > target
            continue
        point = point_after(x, y, ux, uy, turn, radius, value)
        assert math.hypot(*point) == pytest.approx(target, abs=1e-9)
        expected = circle_intersections(centre, radius, target)
        assert min(math.dist(point, p) for p in expected) < 1e-9
        # No earlier crossing: sample the arc before the returned angle.
        before = [math.hypot(*point_after(x, y, ux, uy, turn, radius, t))
                  for t in np.linspace(1e-6, value * (1 - 1e-6), 2000)]
        r0 = math.hypot(x, y)
        assert all((r - target) * (r0 - target) > 0 for r in before)


def test_stiff_track_keeps_precision():
    # A 100 GeV track (R = 238 m) from the origin along +x reaches
    # rho = 50 cm after a sagitta of rho^2 / (2 R) = 0.0525 cm.
    radius = float(helix_radius(100.0, 1.0, FIELD))
    angle = next_crossing_angle(np.zeros(1), np.zeros(1), np.ones(1),
                                np.zeros(1), -np.ones(1), np.array([radius]),
                                np.array([[50.0]]))[0, 0]
    x, y = point_after(0, 0, 1, 0, -1, radius, angle)
    assert math.hypot(x, y) == pytest.approx(50.0, abs=1e-10)
    assert y == pytest.approx(-50.0**2 / (2 * radius), rel=1e-6)


def test_particle_on_cylinder_finds_its_return():
    # Starting on rho = 40 at (40, 0) and moving outwards along (0.6, 0.8) on
    # a clockwise 5 cm circle around (44, -3), the particle comes back to
    # rho = 40 at the circle's other crossing and never reaches 51 cm
    # (44.1 + 5 < 51).
    angle = next_crossing_angle(np.array([40.0]), np.zeros(1),
                                np.array([0.6]), np.array([0.8]),
                                -np.ones(1), np.array([5.0]),
                                np.array([[40.0, 51.0]]))[0]
    point = point_after(40.0, 0.0, 0.6, 0.8, -1.0, 5.0, angle[0])
    other = max(circle_intersections((44.0, -3.0), 5.0, 40.0),
                key=lambda p: math.dist(p, (40.0, 0.0)))

    assert 0 < angle[0] < 2 * math.pi
    assert math.dist(point, other) < 1e-9
    assert angle[1] == np.inf


def test_highland_matches_hand_value():
    # 1 GeV, beta = 1, x / X0 = 0.01: 13.6 mrad * 0.1 * (1 - 0.038 * 4.605).
    theta = highland_angle(np.array([1.0]), np.array([1.0]), np.array([1.0]),
                           np.array([0.01]))
    assert theta[0] == pytest.approx(13.6e-3 * 0.1 * (1 + 0.038 *
                                                      math.log(0.01)))


def test_row_path_of_radial_and_slanted_tracks():
    # Radial crossing of a 1 cm row: 1 cm. At (48, -36) with direction
    # (0.28, -0.96) the crossing angle has cos 0.8, giving
    # sqrt(60.5^2 - 36^2) - sqrt(59.5^2 - 36^2) = 1.2500 cm.
    pos = np.array([[60.0, 0.0, 0.0], [48.0, -36.0, 0.0]])
    direction = np.array([[1.0, 0.0, 0.0], [0.28, -0.96, 0.0]])
    path = row_path_length(pos, direction, np.array([60.0, 60.0]),
                           np.array([1.0, 1.0]))
    assert path[0] == pytest.approx(1.0)
    assert path[1] == pytest.approx(1.25, rel=1e-4)

    # A dip angle stretches the path by p / pT.
    slanted = row_path_length(pos[:1], np.array([[0.6, 0.0, 0.8]]),
                              np.array([60.0]), np.array([1.0]))
    assert slanted[0] == pytest.approx(1.0 / 0.6)
