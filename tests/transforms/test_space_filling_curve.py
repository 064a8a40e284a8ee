import itertools

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.transforms import SpaceFillingCurveOrder
from fm4npp_geo.transforms.space_filling_curve import hilbert_code, morton_code


def grid(bits: int) -> torch.Tensor:
    side = range(1 << bits)
    return torch.tensor(list(itertools.product(side, side, side)))


def test_morton_known_codes():
    cells = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 1, 1], [2, 0, 0], [0, 3, 0]])
    # First axis most significant: bit b of axes (a0, a1, a2) lands at 3b+2, 3b+1, 3b.
    assert morton_code(cells).tolist() == [0, 1, 2, 4, 7, 32, 2 + 16]


def test_morton_is_bijective_on_grid():
    codes = morton_code(grid(2))
    assert torch.equal(codes.sort().values, torch.arange(64))


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_hilbert_visits_neighbours(bits):
    cells = grid(bits)
    codes = hilbert_code(cells, bits)
    assert torch.equal(codes.sort().values, torch.arange(cells.size(0)))
    path = cells[codes.argsort()]
    # Consecutive cells along the Hilbert curve differ by one step on one axis.
    steps = (path[1:] - path[:-1]).abs().sum(-1)
    assert steps.tolist() == [1] * (cells.size(0) - 1)
    assert path[0].tolist() == [0, 0, 0]


def test_z_order_hand_built():
    # Corners of a 2x2x2 grid over [0, 2)^3 in (x, y, z).
    pos = torch.tensor([[1.5, 1.5, 1.5], [0.5, 0.5, 0.5], [1.5, 0.5, 0.5], [0.5, 0.5, 1.5], [0.5, 1.5, 0.5]])
    transform = SpaceFillingCurveOrder("z", "cartesian", bits=1, bounds=[[0, 2]] * 3)
    # Codes: x*4 + y*2 + z -> 7, 0, 4, 1, 2.
    assert transform(Data(pos=pos)).order.tolist() == [1, 3, 4, 2, 0]


def test_hilbert_hand_built():
    pos = torch.tensor([[1.5, 1.5, 1.5], [0.5, 0.5, 0.5], [1.5, 0.5, 0.5], [0.5, 0.5, 1.5], [0.5, 1.5, 0.5]])
    transform = SpaceFillingCurveOrder("hilbert", "cartesian", bits=1, bounds=[[0, 2]] * 3)
    cells = (pos - 0).floor().long()
    expected = hilbert_code(cells, 1).argsort(stable=True)
    order = transform(Data(pos=pos)).order
    assert order.tolist() == expected.tolist()
    assert order[0].item() == 1


def test_per_event_bounds_and_clamping():
    pos = torch.tensor([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0], [2.0, 9.0, 1.0]])
    transform = SpaceFillingCurveOrder("z", "cartesian", bits=2)
    cells = transform.cells(pos, torch.zeros(3, dtype=torch.long), 1)
    # Range [0, 10] per axis over 4 cells; the maximum clamps into the last cell.
    assert cells.tolist() == [[0, 0, 0], [3, 3, 3], [0, 3, 0]]
    fixed = SpaceFillingCurveOrder("z", "cartesian", bits=2, bounds=[[0, 4]] * 3)
    assert fixed.cells(pos, torch.zeros(3, dtype=torch.long), 1).tolist() == [[0, 0, 0], [3, 3, 3], [2, 3, 1]]


@pytest.mark.parametrize("curve", ["z", "hilbert"])
@pytest.mark.parametrize("coordinates", ["cylindrical", "cartesian"])
def test_batch_equals_per_event(curve, coordinates):
    generator = torch.Generator().manual_seed(0)
    events = [Data(pos=torch.randn(n, 3, generator=generator) * 30 + 40) for n in (9, 1, 0, 25)]
    transform = SpaceFillingCurveOrder(curve, coordinates, bits=6)
    batch = transform(Batch.from_data_list([e.clone() for e in events]))
    expected = torch.cat([transform(e.clone()).order for e in events])
    assert torch.equal(batch.order, expected)
    for event in events:
        order = transform(event.clone()).order
        assert torch.equal(order.sort().values, torch.arange(event.num_nodes))


def test_invalid_arguments_rejected():
    with pytest.raises(ValueError, match="curve must be one of"):
        SpaceFillingCurveOrder("peano")
    with pytest.raises(ValueError, match="coordinates must be one of"):
        SpaceFillingCurveOrder("z", "spherical")
    with pytest.raises(ValueError, match=r"bits must be a whole number in \[1, 20\], got 21"):
        SpaceFillingCurveOrder("z", bits=21)
    with pytest.raises(ValueError, match="bounds must be"):
        SpaceFillingCurveOrder("z", bounds=[[1, 0]] * 3)
