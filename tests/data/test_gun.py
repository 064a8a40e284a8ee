import numpy as np
import pytest

from fm4npp_geo.data.gun import ParticleGun


def test_gun_draws_in_ranges():
    gun = ParticleGun(seed=1, species=(2212, -11), num_particles=500,
                      pt_range=(0.3, 0.6), eta_range=(-0.5, 0.2),
                      phi_range=(0.0, 1.0), vertex_sigma_z=5.0)
    event = gun.generate(4)

    assert len(event) == 500
    assert set(event.pdg.tolist()) == {2212, -11}
    assert np.all(event.charge[event.pdg == 2212] == 1)
    assert np.all(event.charge[event.pdg == -11] == 1)
    assert np.allclose(event.mass[event.pdg == 2212], 0.938272, atol=1e-6)
    assert np.all((event.pt >= 0.3) & (event.pt <= 0.6))
    assert np.all((event.eta >= -0.5 - 1e-9) & (event.eta <= 0.2 + 1e-9))
    phi = np.arctan2(event.py, event.px)
    assert np.all((phi >= 0.0) & (phi <= 1.0))
    assert np.all(event.vx == 0)
    assert np.all(event.vz == event.vz[0])


def test_gun_events_reproduce_by_index():
    gun = ParticleGun(seed=2)
    first = gun.generate(7)
    again = ParticleGun(seed=2).generate(7)
    other = gun.generate(8)

    assert np.array_equal(first.px, again.px)
    assert not np.array_equal(first.px, other.px)


@pytest.mark.parametrize('kwargs, match', [
    ({'species': (22, )}, 'Expected species among'),
    ({'pt_range': (0.0, 1.0)}, "positive lower end of 'pt_range'"),
    ({'eta_range': (1.0, -1.0)}, "'eta_range' to be"),
    ({'num_particles': -1}, 'non-negative num_particles'),
])
def test_gun_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ParticleGun(**kwargs)
