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
