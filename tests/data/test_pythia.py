import sys

import numpy as np
import pytest

from fm4npp_geo.data import PythiaEventGenerator


def test_missing_pythia_names_the_fix(monkeypatch):
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, 'pythia8mc', None)
    with pytest.raises(ImportError, match=r"pip install 'fm4npp-geo\[sim\]'"):
        PythiaEventGenerator()


def test_invalid_arguments_rejected():
    with pytest.raises(ValueError, match='non-negative seed'):
        PythiaEventGenerator(seed=-1)
    with pytest.raises(ValueError, match='vertex_sigma_z'):
        PythiaEventGenerator(vertex_sigma_z=-1.0)
    with pytest.raises(ValueError, match='single string'):
        PythiaEventGenerator(processes='SoftQCD:nonDiffractive = on')


@pytest.fixture(scope='module')
def generator():
    pytest.importorskip('pythia8mc')
    return PythiaEventGenerator(seed=3)


def test_events_contain_charged_final_particles(generator):
    events = list(generator.events(5))

    assert len(events) == 5
    total = sum(len(event) for event in events)
    assert total > 20
    for event in events:
        assert np.all(np.abs(event.charge) >= 1)
        assert np.all(event.mass > 0)
    pdg = np.abs(np.concatenate([event.pdg for event in events]))
    assert 211 in pdg


def test_event_index_is_reproducible(generator):
    first = [generator.generate(i) for i in range(3)]
    fresh = PythiaEventGenerator(seed=3)
    third = fresh.generate(2)

    assert np.array_equal(first[2].pdg, third.pdg)
    assert np.array_equal(first[2].px, third.px)
    assert np.array_equal(first[2].vz, third.vz)
    assert not np.array_equal(first[0].px[:3], first[1].px[:3])


def test_vertex_in_cm_with_smearing():
    pytest.importorskip('pythia8mc')
    unsmeared = PythiaEventGenerator(seed=4, vertex_sigma_z=0.0)
    smeared = PythiaEventGenerator(seed=4, vertex_sigma_z=10.0)
    shifts, radii = [], []
    for index in range(30):
        plain = unsmeared.generate(index)
        shifted = smeared.generate(index)
        assert np.array_equal(plain.px, shifted.px)
        shift = shifted.vz - plain.vz
        assert np.allclose(shift, shift[0])
        shifts.append(shift[0])
        radii.append(np.hypot(plain.vx, plain.vy))

    # Most particles come from within a micrometre of the beam line, but
    # weak decays displace some by centimetres.
    radii = np.concatenate(radii)
    assert np.median(radii) < 1e-3
    assert radii.max() > 0.5
    assert 3.0 < np.std(shifts) < 20.0


def test_unknown_setting_rejected():
    pytest.importorskip('pythia8mc')
    with pytest.raises(ValueError, match='rejected the setting'):
        PythiaEventGenerator(settings=('NoSuch:setting = on', ))


def test_weak_decay_daughters_are_secondary():
    pytest.importorskip('pythia8mc')
    generator = PythiaEventGenerator(seed=6, vertex_sigma_z=0.0)
    events = [generator.generate(index) for index in range(40)]
    primary = np.concatenate([event.is_primary for event in events])
    radius = np.concatenate([np.hypot(event.vx, event.vy) for event in events])

    assert primary.mean() > 0.8
    assert (~primary).sum() > 0
    # Primaries come from the collision point; daughters of K0S and Lambda
    # from vertices displaced by up to tens of cm.
    assert radius[primary].max() < 0.01
    assert np.median(radius[~primary]) > 0.1


def test_pileup_collisions_are_indexed():
    pytest.importorskip('pythia8mc')
    single = PythiaEventGenerator(seed=8)
    piled = PythiaEventGenerator(seed=8, pileup_mean=2.0)
    counts = []
    for index in range(10):
        alone = single.generate(index)
        event = piled.generate(index)
        triggered = event.collision == 0
        # Pile-up leaves the triggered collision as it was.
        assert np.array_equal(event.px[triggered], alone.px)
        assert np.array_equal(event.vz[triggered], alone.vz)
        counts.append(event.collision.max() + 1)
    assert 1.5 < np.mean(counts) < 4.5


def test_invalid_collision_system_rejected():
    with pytest.raises(ValueError, match="collision_system to be one of"):
        PythiaEventGenerator(collision_system='pPb')
    with pytest.raises(ValueError, match='non-negative pileup_mean'):
        PythiaEventGenerator(pileup_mean=-0.5)
