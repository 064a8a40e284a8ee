"""Minimum-bias p+p collisions from PYTHIA 8 through ``pythia8mc``."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fm4npp_geo.data.particles import ParticleTable

logger = logging.getLogger(__name__)

#: PYTHIA accepts random seeds from 1 to 900,000,000; 0 would seed from the
#: clock and a negative value picks its default seed.
_MAX_PYTHIA_SEED = 900_000_000

#: PYTHIA reports lengths in mm; the library uses cm.
_MM_TO_CM = 0.1


def _derived_seed(*entropy: int) -> int:
    # Mixes the integers through numpy's SeedSequence so that nearby
    # (seed, index) pairs give unrelated PYTHIA seeds.
    state = np.random.SeedSequence(list(entropy)).generate_state(1)[0]
    return int(state) % _MAX_PYTHIA_SEED + 1


def _import_pythia() -> Any:
    try:
        import pythia8mc
    except ImportError as error:
        raise ImportError(
            "PythiaEventGenerator needs the PYTHIA 8 Python module "
            "'pythia8mc', which is not installed. Install the 'sim' extra "
            "with: pip install 'fm4npp-geo[sim]'") from error
    return pythia8mc


class PythiaEventGenerator:
    r"""Generate collision events with PYTHIA 8 and return their charged
    final-state particles.

    One PYTHIA instance is initialized per generator, which takes far longer
    than generating an event, so create one generator per run. Before event
    :obj:`index` the
    random number generator is re-initialized with a seed derived from
    (:obj:`seed`, :obj:`index`), so event :obj:`index` is the same whichever
    events were generated before it. Decays stay on, so daughters of
    :math:`K^0_S`, :math:`\Lambda` and other weakly decaying hadrons come from
    displaced vertices. Charged pions and kaons, muons and :math:`K^0_L` do
    not decay, which is PYTHIA's default (checked in PYTHIA 8.317).

    Every event is shifted along :math:`z` by a Gaussian primary-vertex offset
    of width :obj:`vertex_sigma_z`, drawn from a numpy generator seeded with
    (:obj:`seed`, :obj:`index`).

    Args:
        seed (int, optional): Non-negative run seed. (default: :obj:`0`)
        energy (float, optional): Centre-of-mass energy in GeV.
            (default: :obj:`200.0`)
        processes (Sequence[str], optional): PYTHIA settings that switch on
            the processes. (default: :obj:`("SoftQCD:nonDiffractive = on",)`,
            the non-diffractive part of minimum bias)
        vertex_sigma_z (float, optional): Width of the primary-vertex
            :math:`z` distribution in cm; 0 keeps PYTHIA's vertex at the
            origin. (default: :obj:`10.0`)
        settings (Sequence[str], optional): More PYTHIA settings, read after
            all others, for example beam particles. (default: :obj:`()`)
    """

    def __init__(
        self,
        seed: int = 0,
        energy: float = 200.0,
        processes: Sequence[str] = ('SoftQCD:nonDiffractive = on', ),
        vertex_sigma_z: float = 10.0,
        settings: Sequence[str] = (),
    ) -> None:
        if seed < 0:
            raise ValueError(f"Expected a non-negative seed, got {seed}")
        if not energy > 0.0:
            raise ValueError(f"Expected a positive centre-of-mass energy in "
                             f"GeV, got {energy}")
        if vertex_sigma_z < 0.0:
            raise ValueError(f"Expected a non-negative vertex_sigma_z in cm, "
                             f"got {vertex_sigma_z}")
        if isinstance(processes, str) or isinstance(settings, str):
            raise ValueError("Expected 'processes' and 'settings' to be "
                             "sequences of strings, got a single string")
        pythia8mc = _import_pythia()

        self.seed = seed
        self.energy = energy
        self.processes = tuple(processes)
        self.vertex_sigma_z = vertex_sigma_z
        self.settings = tuple(settings)

        self._pythia = pythia8mc.Pythia('', False)
        all_settings = (
            f'Beams:eCM = {energy}',
            *self.processes,
            'Random:setSeed = on',
            f'Random:seed = {_derived_seed(seed)}',
            'Print:quiet = on',
            'Next:numberCount = 0',
            *self.settings,
        )
        for setting in all_settings:
            if not self._pythia.readString(setting):
                raise ValueError(f"PYTHIA rejected the setting '{setting}'; "
                                 f"check its name and value")
        if not self._pythia.init():
            raise RuntimeError(f"PYTHIA failed to initialize with settings "
                               f"{list(all_settings)}")
        logger.debug("Initialized PYTHIA %.3f with seed %d",
                     self._pythia.parm('Pythia:versionNumber'), seed)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(seed={self.seed}, '
                f'energy={self.energy}, processes={list(self.processes)}, '
                f'vertex_sigma_z={self.vertex_sigma_z})')

    def generate(self, index: int, max_attempts: int = 10) -> ParticleTable:
        r"""Generate event :obj:`index` of this run.

        Args:
            index (int): Non-negative event index.
            max_attempts (int, optional): Number of times to call
                ``Pythia.next()`` before giving up on a failing event.
                (default: :obj:`10`)

        Returns:
            ParticleTable: Charged final-state particles, vertices in cm and
            shifted by the primary-vertex offset.
        """
        if index < 0:
            raise ValueError(f"Expected a non-negative event index, got "
                             f"{index}")
        self._pythia.rndm.init(_derived_seed(self.seed, index))
        for attempt in range(1, max_attempts + 1):
            if self._pythia.next():
                break
            logger.warning("PYTHIA failed to generate event %d of seed %d "
                           "(attempt %d of %d)", index, self.seed, attempt,
                           max_attempts)
        else:
            raise RuntimeError(
                f"PYTHIA failed to generate event {index} of seed "
                f"{self.seed} in {max_attempts} attempts")

        rows = [(p.id(), p.charge(), p.m(), p.px(), p.py(), p.pz(),
                 p.xProd(), p.yProd(), p.zProd()) for p in self._pythia.event
                if p.isFinal() and p.isCharged()]
        if not rows:
            return ParticleTable.empty()
        table = np.asarray(rows, dtype=np.float64)

        vertex_rng = np.random.default_rng([self.seed, index])
        vertex_shift = vertex_rng.normal(0.0, self.vertex_sigma_z)
        return ParticleTable(
            pdg=table[:, 0].astype(np.int64),
            charge=table[:, 1],
            mass=table[:, 2],
            px=table[:, 3],
            py=table[:, 4],
            pz=table[:, 5],
            vx=table[:, 6] * _MM_TO_CM,
            vy=table[:, 7] * _MM_TO_CM,
            vz=table[:, 8] * _MM_TO_CM + vertex_shift,
        )

    def events(self, num_events: int,
               start: int = 0) -> Iterator[ParticleTable]:
        r"""Yield events :obj:`start` to :obj:`start + num_events - 1`."""
        if num_events < 0:
            raise ValueError(f"Expected a non-negative num_events, got "
                             f"{num_events}")
        for index in range(start, start + num_events):
            yield self.generate(index)
