"""Neural-network layers: the Mamba2 block, the FM4NPP backbone and its parts."""

from fm4npp_geo.nn import kernels
from fm4npp_geo.nn.backbone import FM4NPPBackbone
from fm4npp_geo.nn.block import Mamba2Block
from fm4npp_geo.nn.embedding import HitEmbedding
from fm4npp_geo.nn.mamba2 import Mamba2
from fm4npp_geo.nn.norm import RMSNorm, RMSNormGated
from fm4npp_geo.nn.presets import PAPER_PARAMETERS, PRESETS, preset
from fm4npp_geo.nn.sequences import reversal_index, reverse_sequences, seq_idx_from_mask
from fm4npp_geo.nn.ssd import ssd_chunked, ssd_sequential

__all__ = [
    "FM4NPPBackbone",
    "HitEmbedding",
    "Mamba2",
    "Mamba2Block",
    "PAPER_PARAMETERS",
    "PRESETS",
    "RMSNorm",
    "RMSNormGated",
    "kernels",
    "preset",
    "reversal_index",
    "reverse_sequences",
    "seq_idx_from_mask",
    "ssd_chunked",
    "ssd_sequential",
]
