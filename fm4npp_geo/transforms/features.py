"""Model input features of the FM4NPP backbone."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.fileio import read_json_object, write_json
from fm4npp_geo.transforms.coordinates import cylindrical


class HitFeatures(BaseTransform):
    r"""Write the FM4NPP input features ``x = (E, eta, phi, r)`` of every hit.

    Following FM4NPP (arXiv 2508.14087), the raw (E, x, y, z) of a hit become the
    standardized energy, the pseudorapidity, the azimuth and the min-max scaled
    transverse radius:

    .. math::
        \mathbf{x}_i = \left(\frac{e_i - \mu_e}{\sigma_e},\;
        \frac{\eta_i}{\eta_s},\; \frac{\phi_i}{\pi},\;
        \frac{r_i - r_{\min}}{r_{\max} - r_{\min}}\right)

    with :math:`e_i = \log(1 + E_i)` when ``log_energy`` is set, because
    ionisation deposits have a long Landau tail. Eta and phi are divided by a
    scale so that all four features lie roughly in [-1, 1], which suits the
    sinusoidal embedding. The statistics come from :meth:`fit`.

    Reads ``pos`` and ``energy``; writes ``x``.

    Args:
        energy_mean (float): mean of the (log) energy.
        energy_std (float): standard deviation of the (log) energy.
        r_min (float): smallest hit radius in cm.
        r_max (float): largest hit radius in cm.
        eta_scale (float, optional): divisor of eta. (default: :obj:`2.0`, about
            the eta reach of a TPC of half-length 105 cm at r = 31 cm)
        log_energy (bool, optional): standardize log(1 + E) instead of E.
            (default: :obj:`True`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`, energy :math:`(|V|,)`
        - **output:** x :math:`(|V|, 4)`
    """

    num_features = 4

    def __init__(
        self,
        energy_mean: float,
        energy_std: float,
        r_min: float,
        r_max: float,
        eta_scale: float = 2.0,
        log_energy: bool = True,
    ) -> None:
        if not energy_std > 0:
            raise ValueError(f"energy_std must be positive, got {energy_std}")
        if not r_max > r_min:
            raise ValueError(f"r_max must exceed r_min, got r_min={r_min}, r_max={r_max}")
        if not eta_scale > 0:
            raise ValueError(f"eta_scale must be positive, got {eta_scale}")
        self.energy_mean = float(energy_mean)
        self.energy_std = float(energy_std)
        self.r_min = float(r_min)
        self.r_max = float(r_max)
        self.eta_scale = float(eta_scale)
        self.log_energy = bool(log_energy)

    @classmethod
    def fit(cls, events: Iterable[Data], eta_scale: float = 2.0, log_energy: bool = True) -> "HitFeatures":
        """Fit the energy and radius statistics on events (the training set)."""
        energies, radii = [], []
        for data in events:
            energies.append(data.energy.double())
            radii.append(torch.hypot(data.pos[:, 0], data.pos[:, 1]).double())
        energy = torch.cat(energies) if energies else torch.zeros(0)
        if energy.numel() < 2:
            raise ValueError(
                f"HitFeatures.fit needs at least 2 hits, got {energy.numel()}; pass training events"
            )
        radius = torch.cat(radii)
        if log_energy:
            energy = torch.log1p(energy.clamp_min(0))
        return cls(
            energy_mean=energy.mean().item(),
            energy_std=max(energy.std().item(), 1e-12),
            r_min=radius.min().item(),
            r_max=max(radius.max().item(), radius.min().item() + 1e-6),
            eta_scale=eta_scale,
            log_energy=log_energy,
        )

    def to_dict(self) -> dict[str, float | bool]:
        """Return the statistics as plain numbers (JSON-safe)."""
        return {
            "energy_mean": self.energy_mean,
            "energy_std": self.energy_std,
            "r_min": self.r_min,
            "r_max": self.r_max,
            "eta_scale": self.eta_scale,
            "log_energy": self.log_energy,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "HitFeatures":
        """Rebuild the transform from :meth:`to_dict` output.

        Raises:
            ValueError: a key is missing or unknown, or a statistic is not a number.
        """
        required = {"energy_mean", "energy_std", "r_min", "r_max"}
        allowed = required | {"eta_scale", "log_energy"}
        if not required <= set(values) <= allowed:
            raise ValueError(
                f"HitFeatures settings need the keys {sorted(required)} and may have {sorted(allowed - required)}, "
                f"got {sorted(values)}"
            )
        for key in allowed - {"log_energy"}:
            value = values.get(key, 2.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"HitFeatures setting '{key}' must be a finite number, got {value!r}")
        return cls(**values)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to a JSON file, atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "HitFeatures":
        """Read a JSON file written by :meth:`save`.

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: the file is not valid JSON or its settings are invalid;
                the message names the file.
        """
        path = Path(path)
        values = read_json_object(path, "feature statistics")
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"feature statistics {path} are invalid: {error}") from error

    def forward(self, data: Data) -> Data:
        if data.pos is None or getattr(data, "energy", None) is None:
            raise ValueError("HitFeatures needs 'pos' [num_hits, 3] and 'energy' [num_hits]")
        r, phi, eta = cylindrical(data.pos.float())
        energy = data.energy.float()
        if self.log_energy:
            energy = torch.log1p(energy.clamp_min(0))
        data.x = torch.stack(
            [
                (energy - self.energy_mean) / self.energy_std,
                eta / self.eta_scale,
                phi / math.pi,
                (r - self.r_min) / (self.r_max - self.r_min),
            ],
            dim=-1,
        )
        return data

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(energy_mean={self.energy_mean:.4g}, "
            f"energy_std={self.energy_std:.4g}, r_min={self.r_min:.4g}, "
            f"r_max={self.r_max:.4g}, log_energy={self.log_energy})"
        )
