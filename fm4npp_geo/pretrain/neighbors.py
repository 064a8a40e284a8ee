"""k next nearest neighbours: each hit's k nearest hits among those after it.

The search never builds an N x N matrix. A hit's candidates always form a
suffix of a sequence: the serialized order itself, or the hits sorted by
radius when candidates must lie at strictly larger r. So the search finds
the k nearest among sequence positions >= s, in two steps:

1. One KD-tree query over the whole event fetches each hit's nearest hits. A
   hit is done when they hold k candidates and the k-th is strictly nearer
   than the farthest hit fetched, so no hit left out can rank before it.
2. The remaining hits split their suffix into a head and aligned runs of
   blocks. The head is the rest of the hit's own block of ``block``
   positions, searched densely. The runs come from a binary decomposition:
   a run of 2^l blocks starts at an odd multiple of 2^l, and a suffix takes
   at most one run per level. Each run gets one KD-tree for all hits whose
   suffix contains it, and is skipped for a hit whose k-th best so far is
   nearer than the run's bounding box.

For N hits and k neighbours, building the trees takes O(N log^2 N) time, the
queries at most O(N k log^2 N), and the memory is O(N k).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Hits fetched per hit in step 1, as a multiple of k.
FIRST_QUERY_FACTOR = 2
# Sequence positions per block of the dense head search (at least 2k).
MIN_BLOCK = 128
# Rows handled at once in dense steps, bounding their memory to this many
# rows times the block or segment length.
_ROW_CHUNK = 4096
# Two distances closer than this relative gap count as tied. A hit whose k-th
# candidate ties with the first one left out is searched densely, so rounding
# inside the KD-tree cannot change which hits are picked.
_TIE_TOLERANCE = 1e-9


def _squared_distances(axes: list[np.ndarray], rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Return the squared distances from each row's hit to the hits in its row of ``columns``.

    ``axes`` contains one contiguous coordinate array per dimension, and the
    squares are added in axis order.
    """
    total = None
    for values in axes:
        difference = values[columns] - values[rows, None]
        total = difference * difference if total is None else total + difference * difference
    return total


def _smallest(distance: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k smallest (distance, index) pairs of each row, sorted, padding with (inf, pad)."""
    rows, columns = distance.shape
    if columns < k:
        distance = np.pad(distance, ((0, 0), (0, k - columns)), constant_values=np.inf)
        index = np.pad(index, ((0, 0), (0, k - columns)), constant_values=np.iinfo(np.int64).max)
        columns = k

    # 1. The k + 1 smallest distances of each row, by partition and a short sort.
    keep = min(k + 1, columns)
    if columns > keep:
        candidates = np.argpartition(distance, keep - 1, axis=1)[:, :keep]
    else:
        candidates = np.broadcast_to(np.arange(columns), (rows, columns))
    order = np.take_along_axis(candidates, np.argsort(np.take_along_axis(distance, candidates, 1), axis=1), 1)
    ranked = np.take_along_axis(distance, order, 1)

    # 2. Equal finite distances need the index as tie-break, which only a full
    #    (distance, index) sort of the row gives; they are rare in real data.
    tied = ((ranked[:, 1:] == ranked[:, :-1]) & np.isfinite(ranked[:, 1:])).any(axis=1)
    if tied.any():
        order[tied] = np.lexsort((index[tied], distance[tied]), axis=-1)[:, :keep]
    order = order[:, :k]
    return np.take_along_axis(distance, order, 1), np.take_along_axis(index, order, 1)


class _SuffixSearch:
    """Running k best (squared distance, index) pairs of each hit, and the two search steps."""

    def __init__(self, points: np.ndarray, rank: np.ndarray, sequence: np.ndarray, start: np.ndarray, k: int):
        self.points = points
        self.axes = [np.ascontiguousarray(points[:, axis]) for axis in range(points.shape[1])]
        self.rank = rank  # sequence position of each hit
        self.sequence = sequence  # hit at each sequence position
        self.start = start  # first candidate position of each hit
        self.k = k
        num_hits = len(points)
        self.distance = np.full((num_hits, k), np.inf)
        self.index = np.full((num_hits, k), np.iinfo(np.int64).max, dtype=np.int64)

    def _merge(self, rows: np.ndarray, distance: np.ndarray, index: np.ndarray) -> None:
        distance = np.concatenate([self.distance[rows], distance], axis=1)
        index = np.concatenate([self.index[rows], index], axis=1)
        self.distance[rows], self.index[rows] = _smallest(distance, index, self.k)

    def first_pass(self, tree: cKDTree, rows: np.ndarray, needed: np.ndarray, workers: int) -> np.ndarray:
        """Step 1 for ``rows``; return the rows that are not done."""
        num_hits, k = len(self.points), self.k
        fetch = min(num_hits, FIRST_QUERY_FACTOR * k)
        pending = []
        for chunk in np.array_split(rows, max(1, len(rows) // _ROW_CHUNK)):
            _, index = tree.query(self.points[chunk], k=fetch, workers=workers)
            index = index.reshape(len(chunk), fetch)
            distance = _squared_distances(self.axes, chunk, index)
            boundary = distance.max(axis=1)
            valid = self.rank[index] >= self.start[chunk, None]
            count = valid.sum(axis=1)
            best, best_index = _smallest(np.where(valid, distance, np.inf), index, k)
            kth = best[np.arange(len(chunk)), np.minimum(needed[chunk], k) - 1]
            complete = count >= needed[chunk]
            separated = (needed[chunk] < k) | (fetch == num_hits) | (kth < boundary * (1 - _TIE_TOLERANCE))
            done = complete & separated
            self.distance[chunk[done]] = best[done]
            self.index[chunk[done]] = best_index[done]
            pending.append(chunk[~done])
        return np.concatenate(pending) if pending else rows[:0]

    def head(self, rows: np.ndarray, block: int) -> None:
        """Search the rest of each row's own block densely."""
        num_hits = len(self.points)
        for chunk in np.array_split(rows, max(1, len(rows) // _ROW_CHUNK)):
            start = self.start[chunk]
            position = (start // block * block)[:, None] + np.arange(block)
            valid = (position >= start[:, None]) & (position < num_hits)
            columns = self.sequence[np.minimum(position, num_hits - 1)]
            distance = np.where(valid, _squared_distances(self.axes, chunk, columns), np.inf)
            self._merge(chunk, *_smallest(distance, columns, self.k))

    def _segment(self, rows: np.ndarray, low: int, high: int, workers: int) -> None:
        """Search the hits at sequence positions [low, high) for ``rows``."""
        k = self.k
        members = self.sequence[low:high]

        # 1. Skip rows whose k-th best so far is nearer than the segment's
        #    bounding box: no hit inside can enter their list. A contiguous run
        #    of a serialized sequence is spatially compact, so most far runs
        #    are skipped this way.
        inside = self.points[members]
        gap = np.maximum(inside.min(axis=0) - self.points[rows], 0) + np.maximum(self.points[rows] - inside.max(axis=0), 0)
        bound = self.distance[rows, k - 1]
        reachable = (gap * gap).sum(axis=1) <= bound * (1 + _TIE_TOLERANCE)
        rows, bound = rows[reachable], bound[reachable]
        if not len(rows):
            return

        # 2. The k + 1 nearest members, no farther than the largest k-th best
        #    (slightly widened, so hits tied with it are returned too).
        fetch = min(k + 1, len(members))
        radius = np.sqrt(bound.max()) * (1 + _TIE_TOLERANCE) + 1e-300
        _, local = cKDTree(inside).query(
            self.points[rows], k=fetch, distance_upper_bound=radius, workers=workers
        )
        local = local.reshape(len(rows), fetch)
        found = local < len(members)
        index = members[np.minimum(local, len(members) - 1)]
        distance = np.where(found, _squared_distances(self.axes, rows, index), np.inf)

        # 3. A tie between the k-th and the (k+1)-th fetched member may hide
        #    another member at that distance with a smaller index.
        if fetch <= k:
            tied = np.zeros(len(rows), dtype=bool)
        else:
            ascending = np.sort(distance, axis=1)
            tied = np.isfinite(ascending[:, k]) & (ascending[:, k - 1] >= ascending[:, k] * (1 - _TIE_TOLERANCE))
        self._merge(rows[~tied], *_smallest(distance[~tied], index[~tied], k))

        # Rows with a tie at the k-th distance compare with the whole segment.
        tied_rows = rows[tied]
        num_chunks = -(-len(tied_rows) * len(members) // (_ROW_CHUNK * 256))
        for chunk in np.array_split(tied_rows, max(1, num_chunks)):
            if len(chunk):
                columns = np.broadcast_to(members, (len(chunk), len(members)))
                self._merge(chunk, *_smallest(_squared_distances(self.axes, chunk, columns), columns, k))

    def blocks(self, rows: np.ndarray, block: int, workers: int) -> None:
        """Search the aligned runs of blocks after each row's own block."""
        num_hits = len(self.points)
        num_blocks = -(-num_hits // block)
        first_block = self.start[rows] // block + 1
        for level in range(num_blocks.bit_length() + 1):
            # c is the first run of 2^level blocks starting at or after the row's
            # first block; the decomposition takes it when c is odd.
            run = (first_block + (1 << level) - 1) >> level
            take = ((run & 1) == 1) & ((run << level) < num_blocks)
            if not take.any():
                continue
            level_rows, level_runs = rows[take], run[take]
            order = np.argsort(level_runs, kind="stable")
            level_rows, level_runs = level_rows[order], level_runs[order]
            runs, first = np.unique(level_runs, return_index=True)
            for value, row_slice in zip(runs, np.split(level_rows, first[1:])):
                low = int(value << level) * block
                high = min(int((value + 1) << level) * block, num_hits)
                self._segment(row_slice, low, high, workers)


def next_nearest_indices(
    points: np.ndarray, k: int, strict_radius: bool = False, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return the indices of each hit's k next nearest hits and how many exist.

    See :func:`~fm4npp_geo.pretrain.knnn_targets` for the definition.

    Args:
        points: float64 coordinates in serialized order, radius last, [N, D].
        k: neighbours per hit.
        strict_radius: candidates are the hits at strictly larger radius.
        workers: threads of the KD-tree queries (-1: all cores).

    Returns:
        ``neighbors`` [N, k] int64 (entries past ``count`` are undefined) and
        ``count`` [N], the number of neighbours found, ``min(k, candidates)``.
    """
    num_hits = len(points)
    if strict_radius:
        sequence = np.argsort(points[:, -1], kind="stable")
        start = np.searchsorted(points[sequence, -1], points[:, -1], side="right")
    else:
        sequence = np.arange(num_hits)
        start = np.arange(1, num_hits + 1)
    rank = np.empty(num_hits, dtype=np.int64)
    rank[sequence] = np.arange(num_hits)
    needed = np.minimum(num_hits - start, k)

    search = _SuffixSearch(points, rank, sequence, start, k)
    rows = np.flatnonzero(needed > 0)
    if rows.size:
        rows = search.first_pass(cKDTree(points), rows, needed, workers)
    if rows.size:
        block = max(MIN_BLOCK, 2 * k)
        search.head(rows, block)
        search.blocks(rows, block, workers)
    neighbors = np.where(np.isfinite(search.distance), search.index, 0)
    return neighbors, needed
