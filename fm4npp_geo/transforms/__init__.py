"""PyG transforms: input features and hit serialization."""

from fm4npp_geo.transforms.coordinates import cylindrical
from fm4npp_geo.transforms.features import HitFeatures
from fm4npp_geo.transforms.serialize import HierarchicalRasterScan

__all__ = ["HierarchicalRasterScan", "HitFeatures", "cylindrical"]
