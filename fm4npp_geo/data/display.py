"""Event display: the hits of one event in x-y and r-z, coloured by track."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor
from torch_geometric.data import Data

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Colour of hits that belong to no track: truth noise, unassigned hits.
UNASSIGNED_COLOR = 'lightgrey'

#: Colour of the tracks beyond :obj:`max_tracks_colored`.
OTHER_TRACKS_COLOR = 'dimgrey'


def _draw_view(axis: Axes, horizontal: np.ndarray, vertical: np.ndarray,
               labels: np.ndarray, unassigned: int,
               max_tracks_colored: int) -> None:
    import matplotlib

    # The largest tracks get the distinct colours, so a small track never
    # takes the colour of a large one.
    is_track = labels != unassigned
    tracks, inverse, counts = np.unique(labels[is_track], return_inverse=True,
                                        return_counts=True)
    rank = np.empty(len(tracks), dtype=np.int64)
    rank[np.argsort(-counts, kind='stable')] = np.arange(len(tracks))
    hit_rank = np.full(labels.shape, -1, dtype=np.int64)
    hit_rank[is_track] = rank[inverse]
    is_colored = is_track & (hit_rank < max_tracks_colored)
    is_other = is_track & ~is_colored

    # tab20 pairs a dark and a light shade of each of 10 hues. The first 10
    # tracks take the dark shades, so neighbours in rank differ in hue.
    palette = matplotlib.colormaps['tab20']
    rank = hit_rank[is_colored]
    color_index = (2 * rank) % 20 + (rank // 10) % 2
    axis.scatter(horizontal[~is_track], vertical[~is_track], s=2,
                 color=UNASSIGNED_COLOR, label='unassigned', rasterized=True)
    axis.scatter(horizontal[is_other], vertical[is_other], s=2,
                 color=OTHER_TRACKS_COLOR, label='other tracks',
                 rasterized=True)
    axis.scatter(horizontal[is_colored], vertical[is_colored], s=4,
                 color=palette(color_index),
                 label='tracks', rasterized=True)


def plot_event(
    event: Data,
    predictions: dict[str, Tensor] | None = None,
    path: str | os.PathLike | None = None,
    max_tracks_colored: int = 20,
) -> Figure:
    r"""Draw one event in the transverse (x-y) and longitudinal (r-z) views.

    The first column shows the truth, coloured by ``particle_id`` with noise
    (``particle_id == 0``) in light grey. Each entry of :obj:`predictions`
    adds a column coloured by its track labels, with unassigned hits
    (label -1) in light grey. The top row is the x-y view and the bottom row
    the r-z view. Track colours are independent between columns.

    Args:
        event (Data): An event with ``pos`` [N, 3] in cm and
            ``particle_id`` [N].
        predictions (dict[str, Tensor], optional): Predicted track labels
            [N] per model name. (default: :obj:`None`)
        path (str or PathLike, optional): Where to save the figure as PNG;
            missing parent folders are created. (default: :obj:`None`)
        max_tracks_colored (int, optional): The tracks with the most hits
            that get their own colour; the rest are dark grey. Colours repeat
            after the 20 of matplotlib's ``tab20`` map.
            (default: :obj:`20`)

    Returns:
        matplotlib.figure.Figure: The figure, with two axes per column.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plot_event needs matplotlib; install it with "
                          "'pip install matplotlib'") from error

    if max_tracks_colored < 0:
        raise ValueError(f"Expected a non-negative max_tracks_colored, got "
                         f"{max_tracks_colored}")
    num_hits = event.num_nodes
    columns = [('truth', event.particle_id, 0)]
    for name, labels in (predictions or {}).items():
        if tuple(labels.shape) != (num_hits, ):
            raise ValueError(f"Expected predictions['{name}'] of shape "
                             f"({num_hits},), one label per hit, got "
                             f"{tuple(labels.shape)}")
        columns.append((name, labels, -1))

    pos = event.pos.detach().cpu().double().numpy()
    r = np.hypot(pos[:, 0], pos[:, 1])
    limit = 1.05 * float(r.max()) if num_hits else 1.0

    # Figure without pyplot: no global state, rendered by the Agg backend.
    figure = Figure(figsize=(4.2 * len(columns), 8.0))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(columns), squeeze=False)
    for column, (title, labels, unassigned) in enumerate(columns):
        labels = labels.detach().cpu().numpy()
        top, bottom = axes[0, column], axes[1, column]
        _draw_view(top, pos[:, 0], pos[:, 1], labels, unassigned,
                   max_tracks_colored)
        _draw_view(bottom, pos[:, 2], r, labels, unassigned,
                   max_tracks_colored)
        top.set_title(title)
        top.set_xlim(-limit, limit)
        top.set_ylim(-limit, limit)
        top.set_aspect('equal')
        top.set_xlabel('x [cm]')
        top.set_ylabel('y [cm]')
        bottom.set_ylim(0.0, limit)
        bottom.set_xlabel('z [cm]')
        bottom.set_ylabel('r [cm]')
    figure.tight_layout()

    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure.savefig(path, format='png', dpi=110)
        logger.info("Saved the event display to %s", path)
    return figure
