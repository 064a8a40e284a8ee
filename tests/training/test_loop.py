import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from fm4npp_geo.training import train_steps


def test_train_steps_fits_a_line():
    generator = torch.Generator().manual_seed(0)
    events = []
    for num_hits in (4, 6, 5, 7, 3, 8):
        x = torch.rand(num_hits, 2, generator=generator)
        events.append(Data(x=x, y=x @ torch.tensor([2.0, -1.0]) + 0.5))
    model = nn.Linear(2, 1)
    seen = []

    def loss_fn(batch):
        seen.append(batch.num_graphs)
        return ((model(batch.x).squeeze(-1) - batch.y) ** 2).mean()

    summary = train_steps(model, loss_fn, events, steps=150, batch_size=4, lr=0.1, weight_decay=0.0)
    assert summary["steps"] == 150
    assert summary["loss_last"] < 0.1 * summary["loss_first"]
    # Six events give one full batch of 4 per epoch; the rest is dropped.
    assert set(seen) == {4}


def test_train_steps_needs_events():
    with pytest.raises(ValueError, match="no training events given"):
        train_steps(nn.Linear(1, 1), lambda batch: batch.x.sum(), [], steps=1)
