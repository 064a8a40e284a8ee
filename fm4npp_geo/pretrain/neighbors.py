"""k next nearest neighbours: each hit's k nearest hits among those after it.

The search never builds an N x N matrix. A hit's candidates always form a
suffix of a sequence: the serialized order itself, or the hits sorted by
radius when candidates must lie at strictly larger r. So the search finds
the k nearest among sequence positions >= s, in two steps:

1. One KD-tree query over the whole event fetches each hit's nearest hits. A
   hit is done when they hold k candidates and the k-th is strictly nearer
   than the farthest hit fetched, so no hit left out can rank before it.
2. The remaining hits split their suffix into a head, the rest of their own
   block of ``block`` positions (searched densely), and aligned runs of
   blocks from a binary decomposition: a run of 2^l blocks starting at an odd
   multiple of 2^l. Each run has its own KD-tree, built once for all hits
   whose suffix contains it, and a suffix crosses at most one run per level.

Time is O(N log^2 N) for the trees plus O(N k log N) for the queries and the
memory O(N k), for N hits and k neighbours.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Hits fetched per hit in step 1, as a multiple of k.
FIRST_QUERY_FACTOR = 2
# Rows handled at once in dense steps, bounding their memory to this many
# rows times the block or segment length.
_ROW_CHUNK = 4096
# Two distances closer than this relative gap count as tied. A hit whose k-th
# candidate ties with the first one left out is searched densely, so rounding
# inside the KD-tree cannot change which hits are picked.
_TIE_TOLERANCE = 1e-9


def _squared_distances(points: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Return |points[rows, None] - points[columns]|^2 summed over axes, [len(rows), columns.shape[1]]."""
    difference = points[columns] - points[rows, None, :]
    return np.einsum("qkd,qkd->qk", difference, difference)


def _smallest(distance: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k smallest (distance, index) pairs of each row, sorted, padding with (inf, pad)."""
    rank = np.lexsort((index, distance), axis=-1)[:, :k]
    distance = np.take_along_axis(distance, rank, axis=-1)
    index = np.take_along_axis(index, rank, axis=-1)
    if distance.shape[1] < k:
        missing = k - distance.shape[1]
        distance = np.pad(distance, ((0, 0), (0, missing)), constant_values=np.inf)
        index = np.pad(index, ((0, 0), (0, missing)), constant_values=np.iinfo(np.int64).max)
    return distance, index


class _SuffixSearch:
    """Running k best (squared distance, index) pairs of each hit, and the two search steps."""

    def __init__(self, points: np.ndarray, rank: np.ndarray, sequence: np.ndarray, start: np.ndarray, k: int):
        self.points = points
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
            distance = _squared_distances(self.points, chunk, index)
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
            distance = np.where(valid, _squared_distances(self.points, chunk, columns), np.inf)
            self._merge(chunk, *_smallest(distance, columns, self.k))

    def _segment(self, rows: np.ndarray, low: int, high: int, workers: int) -> None:
        """Search the hits at sequence positions [low, high) for ``rows``."""
        k = self.k
        members = self.sequence[low:high]
        fetch = min(k + 1, len(members))
        tree = cKDTree(self.points[members])
        _, local = tree.query(self.points[rows], k=fetch, workers=workers)
        index = members[local.reshape(len(rows), fetch)]
        distance = _squared_distances(self.points, rows, index)
        if fetch <= k:
            tied = np.zeros(len(rows), dtype=bool)
        else:
            ascending = np.sort(distance, axis=1)
            tied = ascending[:, k - 1] >= ascending[:, k] * (1 - _TIE_TOLERANCE)
        self._merge(rows[~tied], *_smallest(distance[~tied], index[~tied], k))

        # Rows with a tie at the k-th distance compare with the whole segment.
        tied_rows = rows[tied]
        num_chunks = -(-len(tied_rows) * len(members) // (_ROW_CHUNK * 256))
        for chunk in np.array_split(tied_rows, max(1, num_chunks)):
            if len(chunk):
                columns = np.broadcast_to(members, (len(chunk), len(members)))
                self._merge(chunk, *_smallest(_squared_distances(self.points, chunk, columns), columns, k))

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
        block = max(64, 2 * k)
        search.head(rows, block)
        search.blocks(rows, block, workers)
    neighbors = np.where(np.isfinite(search.distance), search.index, 0)
    return neighbors, needed
