import torch

from fm4npp_geo.metrics import UNASSIGNED
from fm4npp_geo.tasks.tracking import cluster_embeddings, contrastive_hinge_loss


def test_loss_zero_for_separated_clusters():
    # Two particles at distance 2 (beyond the margin), hits of a particle identical.
    embedding = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    particle_id = torch.tensor([1, 1, 2, 2])
    ptr = torch.tensor([0, 4])
    batch = torch.zeros(4, dtype=torch.long)
    loss = contrastive_hinge_loss(embedding, particle_id, ptr, batch, margin=0.5)
    assert loss.item() == 0.0


def test_loss_positive_when_particles_overlap():
    embedding = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], requires_grad=True)
    particle_id = torch.tensor([1, 1, 2, 2])
    loss = contrastive_hinge_loss(embedding, particle_id, torch.tensor([0, 4]), torch.zeros(4, dtype=torch.long))
    assert loss.item() > 0.0
    loss.backward()
    assert embedding.grad is not None


def test_pairs_stay_inside_events():
    # Same particle id in two events must not be pulled together: event 0 and 1
    # each hold particle 1 at different places, so only within-event pairs count.
    embedding = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    particle_id = torch.tensor([1, 1, 1, 1])
    ptr = torch.tensor([0, 2, 4])
    batch = torch.tensor([0, 0, 1, 1])
    assert contrastive_hinge_loss(embedding, particle_id, ptr, batch).item() == 0.0


def test_cluster_embeddings_marks_outliers():
    embedding = torch.tensor([[0.0, 0.0], [0.0, 0.01], [0.01, 0.0], [5.0, 5.0]])
    labels = cluster_embeddings(embedding, eps=0.1, min_samples=2)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3].item() == UNASSIGNED
    assert cluster_embeddings(torch.zeros(0, 2), eps=0.1).numel() == 0
