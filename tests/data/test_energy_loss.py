import numpy as np
import pytest
import scipy.stats

from fm4npp_geo.data.energy_loss import (
    ARGON_GAS,
    MOYAL_MEAN,
    bethe_bloch,
    density_effect,
    moyal_fluctuation,
)

MUON_MASS = 0.1056584
PION_MASS = 0.1395704
PROTON_MASS = 0.9382721


@pytest.mark.parametrize('kinetic_mev, reference', [
    (10.0, 5.697),
    (20.0, 3.505),
    (250.0, 1.520),
    (1000.0, 1.714),
])
def test_muon_stopping_power_in_argon(kinetic_mev, reference):
    # Ionization column of the PUMAS muon table for argon gas,
    # dedx/muon/argon_gas.txt in github.com/niess/pumas-materials, in
    # MeV cm^2 / g.
    mass_mev = 1e3 * MUON_MASS
    momentum = np.sqrt((kinetic_mev + mass_mev)**2 - mass_mev**2)
    dedx = bethe_bloch(momentum / mass_mev, MUON_MASS)  # keV / cm
    mass_stopping = dedx / 1e3 / ARGON_GAS.density

    assert mass_stopping == pytest.approx(reference, rel=0.01)


def test_minimum_ionization_near_beta_gamma_3():
    beta_gamma = np.logspace(-0.5, 2.0, 500)
    dedx = bethe_bloch(beta_gamma, PION_MASS)

    assert 3.0 <= beta_gamma[np.argmin(dedx)] <= 4.0
    # 1.52 MeV cm^2 / g at the minimum, times 1.661e-3 g / cm^3.
    assert dedx.min() == pytest.approx(2.52, abs=0.03)


def test_slow_protons_deposit_more_than_pions():
    for momentum in (0.3, 0.5, 0.8):
        proton = bethe_bloch(momentum / PROTON_MASS, PROTON_MASS)
        pion = bethe_bloch(momentum / PION_MASS, PION_MASS)
        assert proton > 1.3 * pion
    proton = bethe_bloch(0.5 / PROTON_MASS, PROTON_MASS)
    pion = bethe_bloch(0.5 / PION_MASS, PION_MASS)
    assert proton / pion == pytest.approx(2.92, abs=0.05)


def test_charge_squared_scaling():
    single = bethe_bloch(2.0, PROTON_MASS, 1.0)
    double = bethe_bloch(2.0, PROTON_MASS, 2.0)

    assert double == pytest.approx(4.0 * single)


def test_density_effect_limits():
    # delta is 0 below x0 = 1.7635 for a gas and 2 ln(10) x - Cbar above
    # x1 = 4.4855.
    assert density_effect(np.array([10.0]), ARGON_GAS) == pytest.approx(0.0)
    high = density_effect(np.array([1e5]), ARGON_GAS)
    assert high == pytest.approx(2 * np.log(10) * 5 - 11.9480)


def test_invalid_beta_gamma_rejected():
    with pytest.raises(ValueError, match='positive beta_gamma'):
        bethe_bloch(np.array([1.0, 0.0]), PION_MASS)
    with pytest.raises(ValueError, match='positive masses'):
        bethe_bloch(1.0, 0.0)


def test_moyal_fluctuation_distribution():
    rng = np.random.default_rng(0)
    width = 0.25
    values = moyal_fluctuation(200_000, rng, width, floor=-np.inf)
    standard = (values - 1.0) / width + MOYAL_MEAN

    assert values.mean() == pytest.approx(1.0, abs=0.005)
    assert np.median(values) < 1.0
    result = scipy.stats.kstest(standard, scipy.stats.moyal.cdf)
    assert result.pvalue > 0.01


def test_moyal_fluctuation_floor():
    rng = np.random.default_rng(1)
    values = moyal_fluctuation(100_000, rng, 1.0, floor=0.05)

    assert values.min() >= 0.05
    with pytest.raises(ValueError, match='non-negative relative_width'):
        moyal_fluctuation(3, rng, -0.1)
