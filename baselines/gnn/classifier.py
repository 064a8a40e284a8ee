"""Point-classifier baselines for particle identification and noise tagging."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from baselines.exatrkx.features import DEFAULT_R_SCALE, DEFAULT_Z_SCALE, hit_features
from baselines.gnn.model import PointGNN, knn_graph
from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

#: Per-hit label attributes a classifier can learn, with their class counts:
#: PID (0 other, 1 pion, 2 kaon, 3 proton, 4 electron) and noise (0 signal,
#: 1 noise or a particle below the noise pT threshold).
TARGETS: dict[str, int] = {"pid_label": 5, "noise_label": 2}


class GNNPointClassifier:
    r"""GraphSAGE or GAT classifier of hits, the GNN rows of the FM4NPP tables.

    Each event becomes a k-nearest-neighbour graph of its hits in 3D (see
    :func:`~baselines.gnn.model.knn_graph`), and a :class:`PointGNN` predicts
    one class per hit. Node features are :math:`(r / r_s, \phi / \pi,
    z / z_s)` from ``pos`` in cm, the logarithm of ``energy`` standardized
    with the training events' mean and standard deviation, and the first
    :obj:`num_x_features` columns of ``x``.

    Args:
        target (str): ``"pid_label"`` or ``"noise_label"``.
        conv (str): ``"sage"`` or ``"gat"``.
        hidden (int): Hidden width.
        num_layers (int): Convolution blocks.
        heads (int): Attention heads for GAT.
        k (int): Neighbours per hit in the graph.
        r_scale (float): Radial feature scale in cm.
        z_scale (float): Longitudinal feature scale in cm.
        num_x_features (int): Columns of ``data.x`` appended, 0 for none.
        epochs (int): Passes over the training events.
        batch_size (int): Events per training step.
        lr (float): Initial learning rate of AdamW, decayed by a cosine.
        weight_decay (float): AdamW weight decay.
        class_weighted (bool): If set, weigh each class in the loss by the
            inverse of its training frequency.
        seed (int): Seed of the weights and the training order.
        device (str): Device, for example ``"cpu"``.
        progress (bool): If set, show a progress bar during :meth:`fit`.
        checkpoint_path (str, optional): If set, :meth:`fit` writes the
            checkpoint there.
    """

    def __init__(
        self,
        target: str = "pid_label",
        conv: str = "sage",
        hidden: int = 64,
        num_layers: int = 3,
        heads: int = 4,
        k: int = 16,
        r_scale: float = DEFAULT_R_SCALE,
        z_scale: float = DEFAULT_Z_SCALE,
        num_x_features: int = 0,
        epochs: int = 20,
        batch_size: int = 8,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        class_weighted: bool = False,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = False,
        checkpoint_path: str | None = None,
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"Expected 'target' in {sorted(TARGETS)}, got '{target}'")
        if epochs < 1 or batch_size < 1 or k < 1 or num_x_features < 0:
            raise ValueError(
                f"Expected epochs >= 1, batch_size >= 1, k >= 1 and "
                f"num_x_features >= 0, got epochs={epochs}, "
                f"batch_size={batch_size}, k={k} and "
                f"num_x_features={num_x_features}"
            )
        self.target = target
        self.num_classes = TARGETS[target]
        self.k = k
        self.r_scale = r_scale
        self.z_scale = z_scale
        self.num_x_features = num_x_features
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.class_weighted = class_weighted
        self.seed = seed
        self.device = torch.device(device)
        self.progress = progress
        self.checkpoint_path = checkpoint_path
        # Mean and standard deviation of log(1 + energy), set by fit().
        self.energy_stats = (0.0, 1.0)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = PointGNN(
                4 + num_x_features, self.num_classes, hidden, num_layers, conv, heads
            )
        self.model.to(self.device).eval()

    def num_parameters(self) -> int:
        """Return the number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def fit(
        self,
        train_events: Sequence[Data],
        val_events: Sequence[Data] | None = None,
    ) -> dict[str, float]:
        """Train the classifier with cross-entropy on the target labels.

        Args:
            train_events (Sequence[Data]): Events with ``pos`` in cm,
                ``energy`` and the :attr:`target` attribute.
            val_events (Sequence[Data], optional): Events on which accuracy is
                reported; nothing is tuned on them.

        Returns:
            The mean loss of the last epoch, training (and validation)
            accuracy and the seconds spent.
        """
        if len(train_events) == 0:
            raise ValueError("Expected at least one training event, got none")
        start = time.perf_counter()
        energies = torch.cat([_log_energy(event) for event in train_events])
        if energies.numel() > 1:
            self.energy_stats = (energies.mean().item(), energies.std().clamp_min(1e-6).item())

        graphs = [self._graph(event, with_labels=True) for event in train_events]
        labels = torch.cat([graph.y for graph in graphs])
        counts = torch.bincount(labels, minlength=self.num_classes).float()
        weight = None
        if self.class_weighted:
            weight = (counts.sum() / (self.num_classes * counts.clamp_min(1.0))).to(self.device)

        generator = torch.Generator().manual_seed(self.seed)
        loader = DataLoader(graphs, batch_size=self.batch_size, shuffle=True, generator=generator)
        num_steps = self.epochs * len(loader)
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, num_steps)

        self.model.train()
        bar = tqdm(total=num_steps, desc=f"gnn {self.target}", disable=not self.progress)
        epoch_loss = math.nan
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            for epoch in range(self.epochs):
                losses = []
                for batch in loader:
                    batch = batch.to(self.device)
                    logits = self.model(batch.x, batch.edge_index)
                    loss = F.cross_entropy(logits, batch.y, weight=weight)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    losses.append(loss.item())
                    bar.update()
                epoch_loss = sum(losses) / len(losses)
                logger.info(
                    "GNN %s epoch %d/%d: loss %.4f", self.target, epoch + 1, self.epochs, epoch_loss
                )
        bar.close()
        self.model.eval()

        summary = {"loss": epoch_loss, "train_accuracy": self.accuracy(train_events)}
        if val_events:
            summary["val_accuracy"] = self.accuracy(val_events)
        if self.checkpoint_path is not None:
            self.save(self.checkpoint_path)
        summary["fit_seconds"] = time.perf_counter() - start
        logger.info("GNN %s fit done: %s", self.target, summary)
        return summary

    @torch.inference_mode()
    def predict(self, event: Data) -> Tensor:
        """Return the predicted class of each hit, ``[num_hits]`` long."""
        if event.num_nodes == 0:
            return torch.empty(0, dtype=torch.long)
        graph = self._graph(event, with_labels=False).to(self.device)
        return self.model(graph.x, graph.edge_index).argmax(dim=-1).cpu()

    @torch.inference_mode()
    def predict_batch(self, batch: Batch) -> Tensor:
        """Predict every hit of a batch of events in one forward pass.

        Each event gets its own neighbour graph, so a hit's class does not
        depend on the other events of the batch.

        Returns:
            The classes of all hits, ``[batch.num_nodes]`` long, in batch order.
        """
        if batch.num_nodes == 0:
            return torch.empty(0, dtype=torch.long)
        ptr = batch.ptr.tolist()
        edges = [
            knn_graph(batch.pos[start:end].float(), self.k) + start
            for start, end in zip(ptr[:-1], ptr[1:])
        ]
        graph = self._graph(batch, with_labels=False, edge_index=torch.cat(edges, dim=1))
        graph = graph.to(self.device)
        return self.model(graph.x, graph.edge_index).argmax(dim=-1).cpu()

    def accuracy(self, events: Sequence[Data]) -> float:
        """Return the fraction of hits classified correctly, pooled over events."""
        correct, total = 0, 0
        for event in events:
            labels = self._labels(event)
            correct += int((self.predict(event) == labels).sum())
            total += labels.numel()
        return correct / total if total else math.nan

    def save(self, path: str | Path) -> Path:
        """Write the weights, energy statistics and target to :obj:`path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return save_checkpoint(
            {
                "state_dict": self.model.state_dict(),
                "energy_stats": list(self.energy_stats),
                "target": self.target,
            },
            path,
        )

    def load_weights(self, path: str | Path) -> None:
        """Load the weights and energy statistics written by :meth:`save`."""
        checkpoint = load_checkpoint(path)
        if checkpoint["target"] != self.target:
            raise ValueError(
                f"Expected a checkpoint for target '{self.target}', got one for "
                f"'{checkpoint['target']}' in {path}"
            )
        self.model.load_state_dict(checkpoint["state_dict"])
        self.energy_stats = tuple(checkpoint["energy_stats"])

    def _labels(self, event: Data) -> Tensor:
        labels = getattr(event, self.target, None)
        if labels is None:
            raise ValueError(f"Expected events with the per-hit label '{self.target}'")
        return labels.long().cpu()

    def _graph(
        self, event: Data, with_labels: bool, edge_index: Tensor | None = None
    ) -> Data:
        mean, std = self.energy_stats
        energy = (_log_energy(event) - mean) / std
        x = torch.cat([hit_features(event, self.r_scale, self.z_scale), energy[:, None]], dim=1)
        if self.num_x_features > 0:
            event_x = getattr(event, "x", None)
            if event_x is None or event_x.size(-1) < self.num_x_features:
                raise ValueError(
                    f"Expected 'x' with at least {self.num_x_features} columns because "
                    f"num_x_features={self.num_x_features}, got "
                    f"{None if event_x is None else list(event_x.shape)}"
                )
            x = torch.cat([x, event_x[:, : self.num_x_features].float()], dim=1)
        if edge_index is None:
            edge_index = knn_graph(event.pos.float(), self.k)
        graph = Data(x=x, edge_index=edge_index)
        if with_labels:
            graph.y = self._labels(event)
        return graph


def _log_energy(event: Data) -> Tensor:
    energy = getattr(event, "energy", None)
    if energy is None:
        raise ValueError("Expected events with per-hit 'energy'")
    return torch.log1p(energy.float().clamp_min(0.0))
