"""State-space sequence models: HiPPO, S4, S4D, S5, Mamba, attention and the dynamical-systems view.

Every block subclasses `AbstractSequenceBlock`: it maps one sequence `(L, d_model)` to
`(L, d_model)` with `__call__`, advances one token with `step(state, x) -> (state, y)` from
`init_state()`, and (the built-in ones) returns the linear time-varying system it applies to a given
input with `dynamical_system(xs) -> (LinearSystem, u)`. `SequenceModel` stacks blocks and has the
same `__call__` / `init_state` / `step` interface.
"""

from ._attention import AttentionState as AttentionState
from ._attention import LinearAttention as LinearAttention
from ._attention import LinearAttentionState as LinearAttentionState
from ._attention import SoftmaxAttention as SoftmaxAttention
from ._block import AbstractSequenceBlock as AbstractSequenceBlock
from ._discretize import discretize as discretize
from ._dsf import LinearSystem as LinearSystem
from ._hippo import hippo as hippo
from ._hippo import hippo_low_rank as hippo_low_rank
from ._hippo import hippo_nplr as hippo_nplr
from ._long_range import long_range_bayes as long_range_bayes
from ._long_range import long_range_patterns as long_range_patterns
from ._long_range import long_range_task as long_range_task
from ._mamba import Mamba as Mamba
from ._mamba import MambaState as MambaState
from ._model import SequenceModel as SequenceModel
from ._model import make_mixer as make_mixer
from ._online import hippo_basis as hippo_basis
from ._online import hippo_project as hippo_project
from ._online import hippo_reconstruct as hippo_reconstruct
from ._rglru import RGLRU as RGLRU
from ._s4 import S4 as S4
from ._s4d import S4D as S4D
from ._s4d import s4d_init as s4d_init
from ._s5 import S5 as S5
from ._stability import hidden_state_lyapunov as hidden_state_lyapunov
from ._stability import lyapunov_exponents as lyapunov_exponents
from ._stability import precision_divergence as precision_divergence
from ._token_dynamics import SelectiveTokenDynamics as SelectiveTokenDynamics
from ._token_dynamics import token_dynamics_criterion as token_dynamics_criterion
