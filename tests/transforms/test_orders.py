import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.transforms import RadialOrder, RandomOrder
from fm4npp_geo.transforms.ordering import float_sort_key, local_order


def test_radial_order_hand_built():
    pos = torch.tensor([[50.0, 0.0, 1.0], [0.0, 31.0, -5.0], [-40.0, 0.0, 0.0], [0.0, -31.0, 2.0]])
    # Radii 50, 31, 40, 31: the two hits at 31 cm keep their input order.
    assert RadialOrder()(Data(pos=pos)).order.tolist() == [1, 3, 2, 0]


def test_radial_order_batch():
    first = Data(pos=torch.tensor([[3.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    second = Data(pos=torch.tensor([[2.0, 0.0, 0.0], [5.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    batch = RadialOrder()(Batch.from_data_list([first, second]))
    assert batch.order.tolist() == [1, 0, 2, 0, 1]


def test_random_order_is_seeded_permutation():
    batch = Batch.from_data_list([Data(pos=torch.randn(n, 3)) for n in (5, 0, 17)])
    first = RandomOrder(seed=3)(batch.clone()).order
    again = RandomOrder(seed=3)(batch.clone()).order
    other = RandomOrder(seed=4)(batch.clone()).order
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert sorted(first[:5].tolist()) == list(range(5))
    assert sorted(first[5:].tolist()) == list(range(17))


def test_float_sort_key_is_monotone():
    values = torch.tensor([-3.5, -1.0, -1e-30, -0.0, 0.0, 1e-30, 2.0, 1e30])
    keys = float_sort_key(values)
    assert bool((keys[1:] > keys[:-1]).all())
    assert keys.min().item() >= 0
    assert keys.max().item() < 2**32


def test_local_order_two_sorts_match_one():
    batch = torch.tensor([0, 0, 0, 1, 1, 2])
    ptr = torch.tensor([0, 3, 5, 6])
    key = torch.tensor([5, 1, 5, 0, 9, 4])
    one_sort = local_order(batch, ptr, key, 8)
    # 61 key bits leave too few for the event index, which forces the two-sort path.
    two_sorts = local_order(batch, ptr, key, 61)
    assert one_sort.tolist() == [1, 0, 2, 0, 1, 0]
    assert torch.equal(one_sort, two_sorts)


@pytest.mark.parametrize("transform", [RadialOrder(), RandomOrder(seed=0)])
def test_missing_positions_rejected(transform):
    with pytest.raises(ValueError, match="needs 'pos'"):
        transform(Data(x=torch.zeros(3, 4)))
