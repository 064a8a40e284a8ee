r"""Detector response of the TPC: position smearing, noise and hit merging."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from fm4npp_geo.data.geometry import TPCGeometry


def drift_smearing(z: np.ndarray, geometry: TPCGeometry, sigma: float,
                   diffusion: float) -> np.ndarray:
    r"""Return the Gaussian width in cm of a hit coordinate after drifting.

    Electrons drift from the hit to the readout at the nearer end cap, over
    :math:`L = z_{max} - |z|`, so the width grows as
    :math:`\sqrt{\sigma_0^2 + D^2 L}` with the effective diffusion
    coefficient :math:`D` in cm / :math:`\sqrt{\text{cm}}`: the diffusion
    constant of the gas divided by the square root of the effective number
    of electrons that a pad row collects.

    Args:
        z (np.ndarray): Hit :math:`z` in cm.
        geometry (TPCGeometry): Provides the drift length :math:`z_{max}`.
        sigma (float): Width :math:`\sigma_0` at zero drift in cm.
        diffusion (float): Effective diffusion coefficient :math:`D`.
    """
    drift = np.clip(geometry.z_max - np.abs(z), 0.0, None)
    return np.sqrt(sigma**2 + diffusion**2 * drift)


def merge_close_hits(
    layer: np.ndarray,
    phi: np.ndarray,
    z: np.ndarray,
    energy: np.ndarray,
    radii: np.ndarray,
    pad_width: float,
    time_bin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Merge hits of one row that the readout cannot separate.

    Two hits merge when they sit in the same row less than :obj:`pad_width`
    apart along :math:`r\phi` and less than :obj:`time_bin` apart in
    :math:`z`, and merging is transitive. A merged hit sums the energies, takes
    the energy-weighted mean :math:`\phi` (on the circle) and :math:`z`, and
    keeps the truth of its largest deposit.

    Args:
        layer (np.ndarray): Row of each hit.
        phi (np.ndarray): Azimuth in radians.
        z (np.ndarray): :math:`z` in cm.
        energy (np.ndarray): Deposits, positive.
        radii (np.ndarray): Row radii in cm.
        pad_width (float): Separation along :math:`r\phi` in cm.
        time_bin (float): Separation along :math:`z` in cm.

    Returns:
        tuple: ``(group, layer, phi, z, energy)``. ``group`` is the merged
        hit of every input hit, and the other arrays describe the merged
        hits. :func:`largest_in_group` picks the input hit whose truth a
        merged hit keeps.
    """
    if not (pad_width > 0.0 and time_bin > 0.0):
        raise ValueError(f"Expected positive pad_width and time_bin in cm, "
                         f"got {pad_width} and {time_bin}")
    num_hits = layer.shape[0]
    if num_hits == 0:
        return (np.zeros(0, np.int64), layer, phi, z, energy)

    # Rows are put 10 scaled units apart so that no pair spans two rows. The
    # cut of 1 in the maximum norm is one pad and one time bin. Arc lengths
    # across the phi = +-pi seam are handled by a copy shifted by 2 pi r.
    arc = radii[layer] * phi / pad_width
    period = 2.0 * np.pi * radii[layer] / pad_width
    points = np.stack([arc, z / time_bin, 10.0 * layer], axis=1)
    shifted = points.copy()
    shifted[:, 0] += period
    tree = cKDTree(np.concatenate([points, shifted]))
    pairs = tree.query_pairs(1.0, p=np.inf, output_type='ndarray')
    pairs %= num_hits
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    graph = coo_matrix((np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])),
                       shape=(num_hits, num_hits))
    num_groups, group = connected_components(graph, directed=False)

    total = np.bincount(group, weights=energy, minlength=num_groups)
    mean_cos = np.bincount(group, energy * np.cos(phi), num_groups) / total
    mean_sin = np.bincount(group, energy * np.sin(phi), num_groups) / total
    mean_z = np.bincount(group, energy * z, num_groups) / total
    merged_layer = np.zeros(num_groups, dtype=layer.dtype)
    merged_layer[group] = layer
    return (group, merged_layer, np.arctan2(mean_sin, mean_cos), mean_z,
            total)


def largest_in_group(group: np.ndarray, energy: np.ndarray,
                     num_groups: int) -> np.ndarray:
    r"""Return, for each group, the index of its member with the largest
    energy (the first one on ties)."""
    order = np.lexsort((-energy, group))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    representative = np.zeros(num_groups, dtype=np.int64)
    representative[group[order][first]] = order[first]
    return representative


def noise_hits(
    num_noise: int,
    geometry: TPCGeometry,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Draw noise hits uniformly in row, :math:`\phi` and :math:`z`.

    Returns:
        tuple: ``(layer, phi, z)`` of the :obj:`num_noise` hits.
    """
    layer = rng.integers(0, geometry.num_layers, num_noise)
    phi = rng.uniform(-np.pi, np.pi, num_noise)
    z = rng.uniform(-geometry.z_max, geometry.z_max, num_noise)
    return layer, phi, z
