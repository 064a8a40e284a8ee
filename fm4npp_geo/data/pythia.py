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

#: A charged particle whose mother has a proper decay length above this many
#: mm is a secondary, from the weak decay of a strange hadron such as
#: K0S (c tau = 26.8 mm) or Lambda (78.9 mm). Decays of charm hadrons
#: (c tau < 0.5 mm) and resonances keep their daughters primary.
_PRIMARY_MAX_MOTHER_CTAU_MM = 10.0

#: PYTHIA settings of each collision system. Angantyr builds Au+Au at
#: 200 GeV per nucleon pair from nucleon-nucleon sub-collisions. Its
#: sub-collision model parameters are fixed to the values that PYTHIA 8.317
#: fits for p+p at 200 GeV and prints at initialization, which skips the fit
#: (about 10 s). The p+p settings add nothing to the beams' defaults.
COLLISION_SYSTEMS: dict[str, tuple[str, ...]] = {
    'pp': (),
    'AuAu': (
        'Beams:idA = 1000791970',
        'Beams:idB = 1000791970',
        'HeavyIon:SigFitNGen = 0',
        'HeavyIon:SigFitDefAvNDb = 0.89',
        'HeavyIon:SigFitDefPar = 1.57,24.86,0.10',
    ),
}


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

    An event contains one triggered collision plus a Poisson number of pile-up
    collisions with mean :obj:`pileup_mean`. Each collision is shifted along
    :math:`z` by its own Gaussian primary-vertex offset of width
    :obj:`vertex_sigma_z`, drawn from a numpy generator seeded with
    (:obj:`seed`, :obj:`index`), and its particles carry its index in
    ``collision``. A particle is primary unless its mother is a weakly
    decaying hadron with :math:`c\tau > 1` cm.

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
            all others. (default: :obj:`()`)
        collision_system (str, optional): A key of
            :data:`COLLISION_SYSTEMS`: :obj:`"pp"` or :obj:`"AuAu"` (Angantyr,
            about 0.1 s per minimum-bias event). (default: :obj:`"pp"`)
        pileup_mean (float, optional): Mean number of pile-up collisions
            added to each event. (default: :obj:`0.0`)
    """

    def __init__(
        self,
        seed: int = 0,
        energy: float = 200.0,
        processes: Sequence[str] = ('SoftQCD:nonDiffractive = on', ),
        vertex_sigma_z: float = 10.0,
        settings: Sequence[str] = (),
        collision_system: str = 'pp',
        pileup_mean: float = 0.0,
    ) -> None:
        if collision_system not in COLLISION_SYSTEMS:
            raise ValueError(
                f"Expected collision_system to be one of "
                f"{sorted(COLLISION_SYSTEMS)}, got '{collision_system}'")
        if not pileup_mean >= 0.0:
            raise ValueError(f"Expected a non-negative pileup_mean, got "
                             f"{pileup_mean}")
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
        self.collision_system = collision_system
        self.pileup_mean = pileup_mean

        self._pythia = pythia8mc.Pythia('', False)
        all_settings = (
            *COLLISION_SYSTEMS[collision_system],
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
                f'vertex_sigma_z={self.vertex_sigma_z}, '
                f'collision_system={self.collision_system!r}, '
                f'pileup_mean={self.pileup_mean})')

    def generate(self, index: int, max_attempts: int = 10) -> ParticleTable:
        r"""Generate event :obj:`index` of this run.

        Args:
            index (int): Non-negative event index.
            max_attempts (int, optional): Number of times to call
                ``Pythia.next()`` before giving up on a failing collision.
                (default: :obj:`10`)

        Returns:
            ParticleTable: Charged final-state particles of all collisions,
            vertices in cm and shifted by their primary-vertex offsets.
        """
        if index < 0:
            raise ValueError(f"Expected a non-negative event index, got "
                             f"{index}")
        vertex_rng = np.random.default_rng([self.seed, index])
        shifts = [vertex_rng.normal(0.0, self.vertex_sigma_z)]
        if self.pileup_mean > 0.0:
            num_pileup = int(vertex_rng.poisson(self.pileup_mean))
            shifts += list(vertex_rng.normal(0.0, self.vertex_sigma_z,
                                             num_pileup))

        tables = []
        for collision, shift in enumerate(shifts):
            # Collision 0 keeps the seed of an event without pile-up.
            entropy = (self.seed, index) if collision == 0 else (
                self.seed, index, collision)
            self._pythia.rndm.init(_derived_seed(*entropy))
            self._next(index, max_attempts)
            table = self._charged_final_state()
            tables.append(table.shifted(shift).with_collision(collision))
        return ParticleTable.concatenate(tables)

    def _next(self, index: int, max_attempts: int) -> None:
        for attempt in range(1, max_attempts + 1):
            if self._pythia.next():
                return
            logger.warning("PYTHIA failed to generate event %d of seed %d "
                           "(attempt %d of %d)", index, self.seed, attempt,
                           max_attempts)
        raise RuntimeError(
            f"PYTHIA failed to generate event {index} of seed {self.seed} in "
            f"{max_attempts} attempts")

    def _charged_final_state(self) -> ParticleTable:
        event = self._pythia.event
        rows = [(p.id(), p.charge(), p.m(), p.px(), p.py(), p.pz(),
                 p.xProd(), p.yProd(), p.zProd(),
                 event[p.mother1()].tau0() <= _PRIMARY_MAX_MOTHER_CTAU_MM)
                for p in event if p.isFinal() and p.isCharged()]
        if not rows:
            return ParticleTable.empty()
        table = np.asarray(rows, dtype=np.float64)
        return ParticleTable(
            pdg=table[:, 0].astype(np.int64),
            charge=table[:, 1],
            mass=table[:, 2],
            px=table[:, 3],
            py=table[:, 4],
            pz=table[:, 5],
            vx=table[:, 6] * _MM_TO_CM,
            vy=table[:, 7] * _MM_TO_CM,
            vz=table[:, 8] * _MM_TO_CM,
            is_primary=table[:, 9] > 0.5,
        )

    def events(self, num_events: int,
               start: int = 0) -> Iterator[ParticleTable]:
        r"""Yield events :obj:`start` to :obj:`start + num_events - 1`."""
        if num_events < 0:
            raise ValueError(f"Expected a non-negative num_events, got "
                             f"{num_events}")
        for index in range(start, start + num_events):
            yield self.generate(index)
