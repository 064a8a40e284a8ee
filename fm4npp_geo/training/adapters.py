"""Task adapters on an FM4NPP backbone: query-based track finding, PID and
noise tagging, with the backbone frozen, fine-tuned or trained from scratch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from fm4npp_geo.metrics import adjusted_rand_index
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.nn.heads.point_classifier import PointClassifier
from fm4npp_geo.nn.heads.query_decoder import QueryTrackHead, assign_hits
from fm4npp_geo.tasks.matching import (
    MatchingWeights,
    set_prediction_loss,
    warn_if_too_many_tracks,
)
from fm4npp_geo.training.loop import train_steps
from fm4npp_geo.training.pretrain import load_backbone

logger = logging.getLogger(__name__)

#: Number of classes of each per-hit target.
CLASSIFIER_TARGETS = {'pid_label': 5, 'noise_label': 2}


class BackboneAdapter:
    r"""Shared part of the adapters: the backbone, frozen or trained, and the
    features it gives the head.

    Three set-ups, chosen by the arguments:

    - **frozen** (FM4NPP): ``backbone_checkpoint`` is a pretrained backbone
      and ``finetune=False``. The backbone runs in eval mode without
      gradients, and its block outputs are computed once per training event
      and kept in memory.
    - **AdapterOnly**: ``backbone_checkpoint=None`` and ``finetune=False``.
      The same head sits on a randomly initialised frozen backbone.
    - **fine-tuned** or **Scratch**: ``finetune=True`` trains the backbone
      with the head, from the checkpoint or, without one, from random
      initialisation (the supervised control).

    Args:
        backbone_checkpoint (str, optional): File written by
            :func:`~fm4npp_geo.training.save_backbone`. (default: :obj:`None`)
        backbone (dict, optional): Arguments of a fresh
            :class:`~fm4npp_geo.nn.FM4NPPBackbone` when no checkpoint is
            given. (default: :obj:`None`)
        finetune (bool, optional): Train the backbone too.
            (default: :obj:`False`)
        steps (int, optional): Optimizer steps. (default: :obj:`400`)
        batch_size (int, optional): Events per step. (default: :obj:`8`)
        lr (float, optional): Learning rate. (default: :obj:`1e-3`)
        seed (int, optional): Seed of the head and of the batches.
            (default: :obj:`0`)
        progress (bool, optional): Show progress bars.
            (default: :obj:`False`)
    """

    def __init__(
        self,
        backbone_checkpoint: str | None = None,
        backbone: dict[str, Any] | None = None,
        finetune: bool = False,
        steps: int = 400,
        batch_size: int = 8,
        lr: float = 1e-3,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        if steps < 1 or batch_size < 1:
            raise ValueError(f"Expected positive steps and batch_size, got "
                             f"{steps} and {batch_size}")
        self.backbone_checkpoint = backbone_checkpoint
        self.backbone_kwargs = dict(backbone or {})
        self.finetune = finetune
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.progress = progress
        self.backbone: FM4NPPBackbone | None = None
        self.head: nn.Module | None = None

    def _build_backbone(self) -> FM4NPPBackbone:
        if self.backbone_checkpoint is not None:
            if not Path(self.backbone_checkpoint).is_file():
                raise FileNotFoundError(
                    f"Backbone checkpoint not found: "
                    f"{self.backbone_checkpoint}; run pretraining first, or "
                    f"set backbone_checkpoint=null for a random backbone")
            model = load_backbone(self.backbone_checkpoint)
        else:
            torch.manual_seed(self.seed)
            model = FM4NPPBackbone(**self.backbone_kwargs)
        model.train(self.finetune)
        for parameter in model.parameters():
            parameter.requires_grad_(self.finetune)
        return model

    @staticmethod
    def _check_inputs(event: Data) -> None:
        if getattr(event, 'x', None) is None or getattr(event, 'order',
                                                         None) is None:
            raise ValueError("The event has no 'x' or 'order'; apply "
                             "HitFeatures and HierarchicalRasterScan first")

    def _layers(self, batch: Batch) -> Tensor:
        # Stacked block outputs [L, N, D]: cached when the backbone is
        # frozen, computed with gradients when it trains.
        if 'block_features' in batch:
            return batch.block_features.transpose(0, 1)
        _, layers = self.backbone.forward_batch(batch, return_all_layers=True)
        return torch.stack(layers, dim=0)

    def _training_events(self, events: Sequence[Data],
                         keys: Sequence[str]) -> list[Data]:
        for event in events:
            self._check_inputs(event)
        # An event without hits adds nothing to the losses, and a batch of
        # such events alone would leave the heads no event to pad.
        with_hits = [event for event in events if event.num_nodes > 0]
        if not with_hits:
            raise ValueError(f"None of the {len(events)} training events has "
                             f"hits; pass events with at least one hit")
        if len(with_hits) < len(events):
            logger.info("Left out %d training events without hits",
                        len(events) - len(with_hits))
        events = with_hits
        if self.finetune:
            return list(events)
        cached = []
        with torch.no_grad():
            for event in events:
                _, layers = self.backbone.forward_batch(
                    event, return_all_layers=True)
                item = Data(block_features=torch.stack(layers, dim=1),
                            num_nodes=event.num_nodes)
                for key in keys:
                    item[key] = event[key]
                cached.append(item)
        return cached

    def _train(self, events: list[Data], loss_fn, description: str
               ) -> dict[str, float]:
        model = (nn.ModuleDict({'head': self.head, 'backbone': self.backbone})
                 if self.finetune else self.head)
        return train_steps(model, loss_fn, events, steps=self.steps,
                           batch_size=self.batch_size, lr=self.lr,
                           weight_decay=0.01, seed=self.seed,
                           progress=self.progress, description=description)

    @torch.no_grad()
    def _event_layers(self, event: Data) -> Tensor:
        self._check_inputs(event)
        self.backbone.eval()
        _, layers = self.backbone.forward_batch(event, return_all_layers=True)
        return torch.stack(layers, dim=0)

    def num_parameters(self) -> int:
        r"""Return the trained parameters: the head, plus the backbone when
        it is trained too."""
        if self.head is None:
            return 0
        count = sum(p.numel() for p in self.head.parameters())
        if self.finetune and self.backbone is not None:
            count += sum(p.numel() for p in self.backbone.parameters())
        return count


class QueryTracker(BackboneAdapter):
    r"""Track finding with the Mask2Former-style
    :class:`~fm4npp_geo.nn.heads.QueryTrackHead`, trained with Hungarian
    matching and auxiliary losses after every decoder layer.

    A hit goes to the query with the highest track score; hits below
    ``min_score`` stay unassigned (``-1``). ``min_score`` is the value of
    ``score_grid`` with the best mean ARI on the validation events (or the
    first fifth of the training events).

    Args:
        hidden_channels (int, optional): Width of the head.
            (default: :obj:`64`)
        num_queries (int, optional): Decoder queries. (default: :obj:`150`)
        num_layers (int, optional): Decoder refinement layers.
            (default: :obj:`2`)
        min_hits (int, optional): Smallest particle that is a target track.
            (default: :obj:`3`)
        score_grid (Sequence[float], optional): Candidate ``min_score``.
        **kwargs: Arguments of :class:`BackboneAdapter`.
    """

    def __init__(self, hidden_channels: int = 64, num_queries: int = 150,
                 num_layers: int = 2, min_hits: int = 3,
                 score_grid: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden_channels = hidden_channels
        self.num_queries = num_queries
        self.num_layers = num_layers
        self.min_hits = min_hits
        self.score_grid = tuple(float(s) for s in score_grid)
        self.min_score = self.score_grid[len(self.score_grid) // 2]
        self.weights = MatchingWeights()

    def fit(self, train_events: Sequence[Data],
            val_events: Sequence[Data] | None = None) -> dict[str, float]:
        self.backbone = self._build_backbone()
        torch.manual_seed(self.seed)
        self.head = QueryTrackHead(self.backbone.n_layer,
                                   self.backbone.d_model, self.hidden_channels,
                                   num_queries=self.num_queries,
                                   num_layers=self.num_layers)
        overflow = sum(warn_if_too_many_tracks(event.particle_id,
                                               self.num_queries, self.min_hits)
                       for event in train_events)
        if overflow:
            logger.warning("%d target tracks of the training events exceed "
                           "the %d queries of their event and cannot be "
                           "learned; raise num_queries", overflow,
                           self.num_queries)
        events = self._training_events(train_events, ['particle_id'])

        def loss_fn(batch: Batch) -> Tensor:
            predictions, padding = self.head(self._layers(batch), batch.batch)
            particle_id = torch.zeros(padding.shape, dtype=torch.long)
            particle_id[~padding] = batch.particle_id
            return sum(set_prediction_loss(prediction, padding, particle_id,
                                           self.weights, self.min_hits)
                       for prediction in predictions) / len(predictions)

        summary = self._train(events, loss_fn, 'query tracking')
        self.head.eval()
        tuning = (list(val_events) if val_events else
                  list(train_events[:max(1, len(train_events) // 5)]))
        self.min_score, best = self._choose_min_score(tuning)
        summary.update({'min_score': self.min_score, 'tuning_ari': best})
        return summary

    @torch.no_grad()
    def _scores(self, event: Data):
        batch = torch.zeros(event.num_nodes, dtype=torch.long)
        predictions, padding = self.head(self._event_layers(event), batch)
        return predictions[-1], padding

    def _choose_min_score(self, events: Sequence[Data]) -> tuple[float, float]:
        events = [event for event in events if event.num_nodes > 0]
        if not events:
            return self.min_score, float('nan')
        outputs = [self._scores(event) for event in events]
        scores = []
        for min_score in self.score_grid:
            aris = [adjusted_rand_index(
                assign_hits(prediction, padding, min_score)[0],
                event.particle_id)
                for (prediction, padding), event in zip(outputs, events)]
            scores.append(float(np.mean(aris)))
        best = int(np.argmax(scores))
        logger.info("Track score cut scan %s -> ARI %s", self.score_grid,
                    [round(s, 4) for s in scores])
        return self.score_grid[best], scores[best]

    def predict(self, event: Data) -> Tensor:
        if self.head is None:
            raise RuntimeError("QueryTracker.predict called before fit")
        if event.num_nodes == 0:
            return torch.zeros(0, dtype=torch.long)
        prediction, padding = self._scores(event)
        return assign_hits(prediction, padding, self.min_score)[0]


class HitClassifier(BackboneAdapter):
    r"""Per-hit particle identification (``target="pid_label"``, 5 classes)
    or noise tagging (``target="noise_label"``, 2 classes) with a
    :class:`~fm4npp_geo.nn.heads.PointClassifier`.

    The cross-entropy is weighted by inverse class frequency over the
    training hits, normalized to mean 1 over the classes present, because
    kaons, protons and electrons are rare next to pions.

    Args:
        target (str, optional): ``"pid_label"`` or ``"noise_label"``.
            (default: :obj:`"pid_label"`)
        hidden_channels (int, optional): Width of the head.
            (default: :obj:`64`)
        attention_layers (int, optional): Self-attention layers; 0 with
            ``mlp_layers=0`` gives the linear probe. (default: :obj:`1`)
        mlp_layers (int, optional): Hidden MLP layers. (default: :obj:`1`)
        **kwargs: Arguments of :class:`BackboneAdapter`.
    """

    def __init__(self, target: str = 'pid_label', hidden_channels: int = 64,
                 attention_layers: int = 1, mlp_layers: int = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if target not in CLASSIFIER_TARGETS:
            raise ValueError(f"Expected target to be one of "
                             f"{sorted(CLASSIFIER_TARGETS)}, got '{target}'")
        self.target = target
        self.num_classes = CLASSIFIER_TARGETS[target]
        self.hidden_channels = hidden_channels
        self.attention_layers = attention_layers
        self.mlp_layers = mlp_layers
        self.class_weight: Tensor | None = None

    def _class_weight(self, events: Sequence[Data]) -> Tensor:
        counts = torch.zeros(self.num_classes)
        for event in events:
            labels = event[self.target].long()
            counts += torch.bincount(labels, minlength=self.num_classes)[
                :self.num_classes].float()
        weight = torch.where(counts > 0, 1.0 / counts.clamp(min=1.0),
                             torch.zeros_like(counts))
        present = counts > 0
        if present.any():
            weight = weight / weight[present].mean()
        return weight

    def fit(self, train_events: Sequence[Data],
            val_events: Sequence[Data] | None = None) -> dict[str, float]:
        self.backbone = self._build_backbone()
        torch.manual_seed(self.seed)
        self.head = PointClassifier(self.backbone.n_layer,
                                    self.backbone.d_model, self.num_classes,
                                    self.hidden_channels,
                                    self.attention_layers, self.mlp_layers)
        self.class_weight = self._class_weight(train_events)
        events = self._training_events(train_events, [self.target])

        def loss_fn(batch: Batch) -> Tensor:
            logits = self.head(self._layers(batch), batch.batch)
            return F.cross_entropy(logits, batch[self.target].long(),
                                   weight=self.class_weight)

        summary = self._train(events, loss_fn, f'{self.target} classifier')
        self.head.eval()
        if val_events:
            correct = total = 0
            for event in val_events:
                predicted = self.predict(event)
                correct += int((predicted == event[self.target].long()).sum())
                total += event.num_nodes
            summary['val_accuracy'] = correct / max(total, 1)
        return summary

    def predict(self, event: Data) -> Tensor:
        if self.head is None:
            raise RuntimeError("HitClassifier.predict called before fit")
        if event.num_nodes == 0:
            return torch.zeros(0, dtype=torch.long)
        batch = torch.zeros(event.num_nodes, dtype=torch.long)
        with torch.no_grad():
            logits = self.head(self._event_layers(event), batch)
        return logits.argmax(dim=-1)
