"""The dynamical-systems zoo: dysts chaotic flows and maps in JAX, classic systems, trajectories.

- `get(name)` / `names()`: the registry: all 135 dysts flows (129 ODEs and 6 delay equations),
  22 of dysts' 26 maps, and classic systems; `register(system)` adds your own.
- `trajectory(system, n_points, ...)`, `trajectories(system, n, n_points, key=...)`: integration;
  `zoo_trajectories(systems, n_points)`: many different systems with one compilation.
- `Flow`, `Map`, `HamiltonianFlow`, `DelayFlow`: the system objects
  (`vector_field(t, y, args)`, `step(y)`, `sample(...)`); `AbstractSystem` for your own kind.
- `make_dataset`, `save_dataset`, `load_dataset`, `Dataset`: windowed train/val/test data.
- Classic constructors: `harmonic_oscillator`, `pendulum`, `double_pendulum`, `henon_heiles`,
  `duffing`, `van_der_pol`, `lotka_volterra`, `fitzhugh_nagumo`, `lorenz96`.
- PDE reference solvers (Fourier pseudo-spectral + ETDRK4): `kuramoto_sivashinsky`,
  `allen_cahn`, `burgers`, `etdrk4`, `etdrk4_coefficients`, `periodic_grid`.
"""

from . import _zoo as _zoo
from ._base import AbstractSystem as AbstractSystem
from ._base import Flow as Flow
from ._base import HamiltonianFlow as HamiltonianFlow
from ._base import Map as Map
from ._classic import double_pendulum as double_pendulum
from ._classic import duffing as duffing
from ._classic import fitzhugh_nagumo as fitzhugh_nagumo
from ._classic import harmonic_oscillator as harmonic_oscillator
from ._classic import henon_heiles as henon_heiles
from ._classic import lorenz96 as lorenz96
from ._classic import lotka_volterra as lotka_volterra
from ._classic import lotka_volterra_invariant as lotka_volterra_invariant
from ._classic import pendulum as pendulum
from ._classic import van_der_pol as van_der_pol
from ._datasets import Dataset as Dataset
from ._datasets import load_dataset as load_dataset
from ._datasets import make_dataset as make_dataset
from ._datasets import save_dataset as save_dataset
from ._delay import DelayFlow as DelayFlow
from ._integrate import trajectories as trajectories
from ._integrate import trajectory as trajectory
from ._integrate import zoo_trajectories as zoo_trajectories
from ._pde import allen_cahn as allen_cahn
from ._pde import burgers as burgers
from ._pde import etdrk4 as etdrk4
from ._pde import etdrk4_coefficients as etdrk4_coefficients
from ._pde import kuramoto_sivashinsky as kuramoto_sivashinsky
from ._pde import periodic_grid as periodic_grid
from ._registry import get as get
from ._registry import names as names
from ._registry import register as register
