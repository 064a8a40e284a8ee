"""FM4NPP track finder: frozen backbone, embedding adapter and DBSCAN."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from fm4npp_geo.metrics import adjusted_rand_index
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.nn.heads import TrackEmbeddingHead
from fm4npp_geo.tasks.tracking import cluster_embeddings, contrastive_hinge_loss
from fm4npp_geo.training.loop import train_steps
from fm4npp_geo.training.pretrain import load_backbone

logger = logging.getLogger(__name__)


class FM4NPPTracker:
    """Track finding with a frozen FM4NPP backbone and a light adapter.

    The backbone's block outputs are mixed by a
    :class:`~fm4npp_geo.nn.heads.TrackEmbeddingHead` into unit-norm hit
    embeddings, trained with :func:`~fm4npp_geo.tasks.tracking.contrastive_hinge_loss`
    while the backbone stays frozen (eval mode, no gradients). Tracks are the
    DBSCAN clusters of the embeddings. The DBSCAN radius is the value of
    ``eps_grid`` with the best mean ARI on the validation events, or on the
    first fifth of the training events when none are given.

    With ``backbone_checkpoint=None`` the backbone is randomly initialised from
    ``backbone`` keyword arguments, which gives the AdapterOnly control of FM4NPP.

    Events passed to :meth:`fit` and :meth:`predict` must carry ``x`` and
    ``order`` (see :class:`~fm4npp_geo.transforms.HitFeatures` and
    :class:`~fm4npp_geo.transforms.HierarchicalRasterScan`).

    Args:
        backbone_checkpoint: file written by :func:`~fm4npp_geo.training.pretrain_backbone`.
        backbone: keyword arguments of a fresh backbone when no checkpoint is given.
        hidden_channels, embedding_dim: sizes of the head.
        attention_layers: Transformer encoder layers over each event's hits in
            the head (0: a per-hit head).
        steps, batch_size, lr: adapter optimisation.
        margin: hinge margin of the contrastive loss (unit-norm embeddings).
        hard_negatives: nearest neighbours mined per hit as negatives.
        eps_grid: DBSCAN radii to choose from.
        min_samples: DBSCAN core-point size.
        seed: seed of the head's initialisation and of the pair sampling.
        progress: show progress bars.
    """

    def __init__(
        self,
        backbone_checkpoint: str | None = None,
        backbone: dict[str, Any] | None = None,
        hidden_channels: int = 64,
        embedding_dim: int = 12,
        attention_layers: int = 1,
        steps: int = 400,
        batch_size: int = 8,
        lr: float = 3e-3,
        margin: float = 0.5,
        hard_negatives: int = 8,
        eps_grid: Sequence[float] = (0.04, 0.06, 0.08, 0.09, 0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.17, 0.2),
        min_samples: int = 3,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.backbone_checkpoint = backbone_checkpoint
        self.backbone_kwargs = dict(backbone or {})
        self.hidden_channels = hidden_channels
        self.embedding_dim = embedding_dim
        self.attention_layers = attention_layers
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.margin = margin
        self.hard_negatives = hard_negatives
        self.eps_grid = tuple(float(e) for e in eps_grid)
        self.min_samples = min_samples
        self.seed = seed
        self.progress = progress
        self.backbone: FM4NPPBackbone | None = None
        self.head: TrackEmbeddingHead | None = None
        self.eps = self.eps_grid[len(self.eps_grid) // 2]

    def _build_backbone(self) -> FM4NPPBackbone:
        if self.backbone_checkpoint is not None:
            if not Path(self.backbone_checkpoint).is_file():
                raise FileNotFoundError(
                    f"backbone checkpoint not found: {self.backbone_checkpoint}; run pretraining "
                    "first or set backbone_checkpoint=null for a random (AdapterOnly) backbone"
                )
            model = load_backbone(self.backbone_checkpoint)
        else:
            torch.manual_seed(self.seed)
            model = FM4NPPBackbone(**self.backbone_kwargs)
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        return model

    @torch.no_grad()
    def _block_outputs(self, event: Data) -> Tensor:
        """Return the frozen backbone's block outputs of one event, [num_hits, L, D]."""
        if getattr(event, "x", None) is None or getattr(event, "order", None) is None:
            raise ValueError("event needs 'x' and 'order'; apply HitFeatures and HierarchicalRasterScan")
        _, layers = self.backbone.forward_batch(event, return_all_layers=True)
        return torch.stack(layers, dim=1)

    def _with_features(self, event: Data) -> Data:
        cached = Data(particle_id=event.particle_id, block_features=self._block_outputs(event))
        cached.num_nodes = event.num_nodes
        return cached

    def fit(self, train_events: Sequence[Data], val_events: Sequence[Data] | None = None) -> dict[str, float]:
        self.backbone = self._build_backbone()
        cached = [self._with_features(event) for event in train_events]
        torch.manual_seed(self.seed)
        self.head = TrackEmbeddingHead(
            self.backbone.n_layer,
            self.backbone.d_model,
            self.hidden_channels,
            self.embedding_dim,
            self.attention_layers,
        )
        generator = torch.Generator().manual_seed(self.seed)

        def loss_fn(batch: Batch) -> Tensor:
            embedding = self.head(batch.block_features.transpose(0, 1), batch.batch)
            return contrastive_hinge_loss(
                embedding, batch.particle_id, batch.ptr, batch.batch, self.margin, self.hard_negatives, generator
            )

        summary = train_steps(
            self.head,
            loss_fn,
            cached,
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=0.01,
            seed=self.seed,
            progress=self.progress,
            description="adapter tracking",
        )
        self.head.eval()
        tuning = list(val_events) if val_events else list(train_events[: max(1, len(train_events) // 5)])
        self.eps, best_ari = self._choose_eps(tuning)
        summary.update({"eps": self.eps, "tuning_ari": best_ari})
        return summary

    @torch.no_grad()
    def _embed(self, event: Data) -> Tensor:
        batch = torch.zeros(event.num_nodes, dtype=torch.long)
        return self.head(self._block_outputs(event).transpose(0, 1), batch)

    def _choose_eps(self, events: Sequence[Data]) -> tuple[float, float]:
        embeddings = [self._embed(event) for event in events]
        scores = []
        for eps in self.eps_grid:
            aris = [
                adjusted_rand_index(cluster_embeddings(embedding, eps, self.min_samples), event.particle_id)
                for embedding, event in zip(embeddings, events)
            ]
            scores.append(float(np.mean(aris)))
        best = int(np.argmax(scores))
        logger.info("DBSCAN eps scan %s -> ARI %s", self.eps_grid, [round(s, 4) for s in scores])
        return self.eps_grid[best], scores[best]

    def predict(self, event: Data) -> Tensor:
        if self.head is None:
            raise RuntimeError("FM4NPPTracker.predict called before fit")
        return cluster_embeddings(self._embed(event), self.eps, self.min_samples)

    def num_parameters(self) -> int:
        """Return the trainable (adapter) parameters; the frozen backbone is not counted."""
        if self.head is None:
            return 0
        return sum(p.numel() for p in self.head.parameters() if p.requires_grad)

    def state_dict(self) -> dict[str, Any]:
        """Return the adapter weights and the chosen DBSCAN radius."""
        if self.head is None:
            raise RuntimeError("FM4NPPTracker.state_dict called before fit")
        return {"head": copy.deepcopy(self.head.state_dict()), "eps": self.eps}
