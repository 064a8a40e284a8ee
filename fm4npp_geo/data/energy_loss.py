r"""Ionization energy loss of charged particles in a TPC gas.

The mean stopping power is the Bethe-Bloch formula of the Review of Particle
Physics (passage of particles through matter):

.. math::
    -\left\langle \frac{dE}{dx} \right\rangle = K z^2 \frac{Z}{A}
    \frac{\rho}{\beta^2} \left[ \frac{1}{2} \ln
    \frac{2 m_e c^2 \beta^2 \gamma^2 W_{max}}{I^2} - \beta^2
    - \frac{\delta(\beta\gamma)}{2} \right],
    \qquad W_{max} = \frac{2 m_e c^2 \beta^2 \gamma^2}
    {1 + 2 \gamma m_e / M + (m_e / M)^2},

with the Sternheimer parametrization of the density effect :math:`\delta`.
Shell, Barkas and Bloch corrections are left out. For muons in argon gas the
result agrees within 1% with the PUMAS tables
(github.com/niess/pumas-materials) from :math:`\beta\gamma = 0.45` to 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Bethe-Bloch coefficient K = 4 pi N_A r_e^2 m_e c^2 in MeV mol^-1 cm^2.
BETHE_BLOCH_K = 0.307075

#: Electron mass in MeV.
ELECTRON_MASS_MEV = 0.51099895

#: Mean of the standard Moyal distribution, Euler's constant plus ln 2.
MOYAL_MEAN = 0.5772156649015329 + math.log(2.0)


@dataclass(frozen=True)
class GasMedium:
    r"""Material constants of a gas for the Bethe-Bloch formula.

    Args:
        name (str): Name of the medium.
        z_over_a (float): Ratio of atomic number to atomic mass,
            :math:`\langle Z/A \rangle` in mol / g.
        mean_excitation_energy (float): Mean excitation energy :math:`I` in
            eV.
        density (float): Density in g / cm^3.
        sternheimer_a (float): Density-effect parameter :math:`a`.
        sternheimer_k (float): Density-effect parameter :math:`k`.
        sternheimer_x0 (float): Density-effect parameter :math:`x_0`.
        sternheimer_x1 (float): Density-effect parameter :math:`x_1`.
        sternheimer_cbar (float): Density-effect parameter :math:`\bar C`.
        sternheimer_delta0 (float): Density-effect parameter :math:`\delta_0`
            (0 for gases).
        radiation_length (float): Radiation length :math:`X_0` in g / cm^2,
            for multiple scattering.
    """

    name: str
    z_over_a: float
    mean_excitation_energy: float
    density: float
    sternheimer_a: float
    sternheimer_k: float
    sternheimer_x0: float
    sternheimer_x1: float
    sternheimer_cbar: float
    sternheimer_delta0: float = 0.0
    radiation_length: float = 19.55

    def __post_init__(self) -> None:
        for name in ('z_over_a', 'mean_excitation_energy', 'density',
                     'radiation_length'):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"Expected a positive '{name}' for the gas "
                                 f"medium '{self.name}', got {value}")

    @property
    def radiation_length_cm(self) -> float:
        r"""Radiation length in cm at this density."""
        return self.radiation_length / self.density


#: Argon gas at 20 degrees C and 1 atm. Z / A = 18 / 39.948, and the density
#: follows from the ideal-gas law (101325 Pa * 39.948 g/mol / (8.314 J/mol/K *
#: 293.15 K)). I and the Sternheimer parameters are copied from the header of
#: the PUMAS muon table for argon gas, ``dedx/muon/argon_gas.txt`` in
#: github.com/niess/pumas-materials. X0 = 19.55 g / cm^2 is the radiation
#: length of argon in the Review of Particle Physics tables, 117.7 m at this
#: density.
ARGON_GAS = GasMedium(
    name='argon gas',
    z_over_a=18.0 / 39.948,
    mean_excitation_energy=188.0,
    density=1.661e-3,
    sternheimer_a=0.1971,
    sternheimer_k=2.9618,
    sternheimer_x0=1.7635,
    sternheimer_x1=4.4855,
    sternheimer_cbar=11.9480,
    radiation_length=19.55,
)


def density_effect(beta_gamma: np.ndarray, medium: GasMedium) -> np.ndarray:
    r"""Return the Sternheimer density-effect correction :math:`\delta`.

    With :math:`x = \log_{10} \beta\gamma`, :math:`\delta = 2 x \ln 10 -
    \bar C` above :math:`x_1`, plus :math:`a (x_1 - x)^k` between
    :math:`x_0` and :math:`x_1`, and :math:`\delta_0\, 10^{2 (x - x_0)}`
    below :math:`x_0`.
    """
    x = np.log10(beta_gamma)
    high = 2.0 * math.log(10.0) * x - medium.sternheimer_cbar
    middle = high + medium.sternheimer_a * np.clip(
        medium.sternheimer_x1 - x, 0.0, None)**medium.sternheimer_k
    low = medium.sternheimer_delta0 * 10.0**(2.0 *
                                             (x - medium.sternheimer_x0))
    return np.where(x >= medium.sternheimer_x1, high,
                    np.where(x >= medium.sternheimer_x0, middle, low))


def bethe_bloch(
    beta_gamma: np.ndarray,
    mass: np.ndarray,
    charge: np.ndarray | float = 1.0,
    medium: GasMedium = ARGON_GAS,
) -> np.ndarray:
    r"""Return the mean stopping power :math:`-\langle dE/dx \rangle` in
    keV / cm.

    The formula is meant for :math:`\beta\gamma \gtrsim 0.1`. Below that the
    logarithm can turn negative, and the result is clipped at 0. Electrons use
    the same formula with their own mass, which only roughly follows the
    Berger-Seltzer formula that describes them.

    Args:
        beta_gamma (np.ndarray): :math:`\beta\gamma = p / M`, positive.
        mass (np.ndarray): Particle mass :math:`M` in GeV.
        charge (np.ndarray or float, optional): Charge :math:`z` in units of
            the elementary charge. (default: :obj:`1.0`)
        medium (GasMedium, optional): The gas. (default: :data:`ARGON_GAS`)
    """
    beta_gamma = np.asarray(beta_gamma, dtype=np.float64)
    if np.any(~(beta_gamma > 0.0)):
        raise ValueError(f"Expected positive beta_gamma, got minimum "
                         f"{np.min(beta_gamma)}")
    mass_mev = 1e3 * np.asarray(mass, dtype=np.float64)
    if np.any(~(mass_mev > 0.0)):
        raise ValueError(f"Expected positive masses in GeV, got minimum "
                         f"{np.min(mass_mev) / 1e3}")

    bg2 = beta_gamma**2
    gamma = np.sqrt(1.0 + bg2)
    beta2 = bg2 / (1.0 + bg2)
    mass_ratio = ELECTRON_MASS_MEV / mass_mev
    w_max = (2.0 * ELECTRON_MASS_MEV * bg2 /
             (1.0 + 2.0 * gamma * mass_ratio + mass_ratio**2))
    excitation_mev = 1e-6 * medium.mean_excitation_energy

    log_term = 0.5 * np.log(2.0 * ELECTRON_MASS_MEV * bg2 * w_max /
                            excitation_mev**2)
    bracket = log_term - beta2 - 0.5 * density_effect(beta_gamma, medium)
    mass_stopping = (BETHE_BLOCH_K * np.asarray(charge)**2 * medium.z_over_a /
                     beta2 * bracket)  # MeV cm^2 / g
    return np.maximum(1e3 * mass_stopping * medium.density, 0.0)


def moyal_fluctuation(
    size: int | tuple[int, ...],
    rng: np.random.Generator,
    relative_width: float,
    floor: float = 0.05,
) -> np.ndarray:
    r"""Draw Landau-like multiplicative fluctuations with mean 1.

    A standard Moyal variable is drawn as :math:`X = -\ln Z^2` with
    :math:`Z \sim \mathcal N(0, 1)`, because :math:`e^{-X}` then follows a
    :math:`\chi^2_1` distribution, and returned as
    :math:`\max(1 + w (X - \gamma_E - \ln 2), f)` for width :math:`w` and floor
    :math:`f`. The most probable value is :math:`1 - w (\gamma_E + \ln 2)`, and
    the long tail is on the high side, as for energy loss in a thin layer. The
    floor changes the mean only when :math:`w` is large.

    Args:
        size (int or tuple[int, ...]): Output shape.
        rng (np.random.Generator): Random number generator.
        relative_width (float): Width :math:`w`, non-negative.
        floor (float, optional): Smallest returned value :math:`f`, so that
            every deposit stays positive. (default: :obj:`0.05`)
    """
    if relative_width < 0.0:
        raise ValueError(f"Expected a non-negative relative_width, got "
                         f"{relative_width}")
    normal = rng.standard_normal(size)
    # Guard against log(0) for an exact zero draw.
    moyal = -np.log(np.maximum(normal**2, 1e-300))
    return np.maximum(1.0 + relative_width * (moyal - MOYAL_MEAN), floor)
