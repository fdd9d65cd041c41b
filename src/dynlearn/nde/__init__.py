"""Neural differential equations: ODEs, SDEs, CDEs, regularizers, fractional noise, flows.

See `docs/nde.md` for the papers each module follows.
"""

from ._cde import AbstractControl as AbstractControl
from ._cde import HermiteCubicControl as HermiteCubicControl
from ._cde import LinearControl as LinearControl
from ._cde import NeuralCDE as NeuralCDE
from ._cde import RectilinearControl as RectilinearControl
from ._fbm import MarkovFBM as MarkovFBM
from ._fbm import ma_fbm_error as ma_fbm_error
from ._fbm import ma_fbm_gammas as ma_fbm_gammas
from ._fbm import ma_fbm_weights as ma_fbm_weights
from ._fbm import ou_covariance as ou_covariance
from ._fbm import riemann_liouville_covariance as riemann_liouville_covariance
from ._fbm import riemann_liouville_variance as riemann_liouville_variance
from ._flow_matching import CNF as CNF
from ._flow_matching import conditional_flow_matching_loss as conditional_flow_matching_loss
from ._flow_matching import flow_matching_loss as flow_matching_loss
from ._hamiltonian import AbstractSymplecticScheme as AbstractSymplecticScheme
from ._hamiltonian import HamiltonianNetwork as HamiltonianNetwork
from ._hamiltonian import HamiltonianODE as HamiltonianODE
from ._hamiltonian import ImplicitMidpoint as ImplicitMidpoint
from ._hamiltonian import Leapfrog as Leapfrog
from ._hamiltonian import SeparableHamiltonian as SeparableHamiltonian
from ._hamiltonian import symplectic_gradient as symplectic_gradient
from ._hamiltonian_meta import derivative_matching_loss as derivative_matching_loss
from ._hamiltonian_meta import maml_adapt as maml_adapt
from ._hamiltonian_meta import maml_loss as maml_loss
from ._latent_sde import LatentSDE as LatentSDE
from ._latent_sde import latent_sde_loss as latent_sde_loss
from ._meta_flow_matching import MetaFlowMatching as MetaFlowMatching
from ._meta_flow_matching import SetEncoder as SetEncoder
from ._meta_flow_matching import meta_flow_matching_loss as meta_flow_matching_loss
from ._ode import FixedGrid as FixedGrid
from ._ode import NeuralODE as NeuralODE
from ._ode import ODESolution as ODESolution
from ._ode import nfe_per_step as nfe_per_step
from ._ode import trajectory_mse as trajectory_mse
from ._regularizers import global_error_regularization as global_error_regularization
from ._regularizers import kinetic_jacobian_regularization as kinetic_jacobian_regularization
from ._regularizers import local_regularization as local_regularization
from ._regularizers import step_error as step_error
from ._sde import NeuralSDE as NeuralSDE
from ._sde import ito_stratonovich_correction as ito_stratonovich_correction
