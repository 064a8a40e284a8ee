"""Task heads that sit on the backbone's features."""

from fm4npp_geo.nn.heads.layer_mix import LayerMix
from fm4npp_geo.nn.heads.track_embedding import TrackEmbeddingHead

__all__ = ["LayerMix", "TrackEmbeddingHead"]
