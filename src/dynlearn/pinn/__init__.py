"""Physics-informed neural networks.

Fields are `eqx.Module`s of one point; derivative operators use Taylor mode (`jet`) or forward
mode and vectorize over collocation points; losses are composable terms with fixed,
gradient-norm, NTK or causal weights; hard constraints include the mixture-of-experts
differentiable least-squares layer; `train_causal` runs causal training as the paper's code
does; `fit_causal` and `lbfgs` train on top of `dynlearn.train.fit`.
"""

from ._constraints import ExpertField as ExpertField
from ._constraints import HardConstraint as HardConstraint
from ._constraints import MixtureOfExpertsLSQ as MixtureOfExpertsLSQ
from ._derivatives import check_points as check_points
from ._derivatives import directional_derivatives as directional_derivatives
from ._derivatives import divergence as divergence
from ._derivatives import gradient as gradient
from ._derivatives import laplacian as laplacian
from ._derivatives import partial_derivative as partial_derivative
from ._inverse import FieldWithCoefficients as FieldWithCoefficients
from ._inverse import coefficient_optimizer as coefficient_optimizer
from ._lagrangian import LagrangianPINN as LagrangianPINN
from ._lagrangian import lagrangian_convection_diffusion as lagrangian_convection_diffusion
from ._lagrangian import lagrangian_to_eulerian as lagrangian_to_eulerian
from ._losses import AbstractTerm as AbstractTerm
from ._losses import Dirichlet as Dirichlet
from ._losses import InitialCondition as InitialCondition
from ._losses import Neumann as Neumann
from ._losses import Observations as Observations
from ._losses import Periodic as Periodic
from ._losses import PINNLoss as PINNLoss
from ._losses import Residual as Residual
from ._losses import relative_l2 as relative_l2
from ._nets import MLP as MLP
from ._nets import DenseLayer as DenseLayer
from ._nets import FourierFeatures as FourierFeatures
from ._nets import ModifiedMLP as ModifiedMLP
from ._nets import PeriodicEmbedding as PeriodicEmbedding
from ._sampling import collocation_data as collocation_data
from ._sampling import grid_points as grid_points
from ._sampling import space_time_points as space_time_points
from ._sampling import uniform_points as uniform_points
from ._training import TimeWindow as TimeWindow
from ._training import WindowedField as WindowedField
from ._training import fit_causal as fit_causal
from ._training import lbfgs as lbfgs
from ._training import time_marching as time_marching
from ._training import train_causal as train_causal
from ._weighting import AbstractWeighting as AbstractWeighting
from ._weighting import CausalWeights as CausalWeights
from ._weighting import FixedWeights as FixedWeights
from ._weighting import GradNormWeights as GradNormWeights
from ._weighting import NTKWeights as NTKWeights
from ._weighting import causal_weights as causal_weights
