"""PyG transforms: input features and hit serialization."""

from fm4npp_geo.transforms.coordinates import cylindrical
from fm4npp_geo.transforms.features import HitFeatures
from fm4npp_geo.transforms.radial_order import RadialOrder
from fm4npp_geo.transforms.random_order import RandomOrder
from fm4npp_geo.transforms.serialize import HierarchicalRasterScan
from fm4npp_geo.transforms.space_filling_curve import SpaceFillingCurveOrder

__all__ = [
    "HierarchicalRasterScan",
    "HitFeatures",
    "RadialOrder",
    "RandomOrder",
    "SpaceFillingCurveOrder",
    "cylindrical",
]
