"`from openstereo_nb.all import *`: the public API in one import (hand-written re-export hub)."
from .config import *
from .data.synthetic import *
from .data.transforms import *
from .data.core import *
from .metrics import *
from .viz import *
from .modeling.base_model import *
from .modeling.losses import *
from .modeling.loss_aggregator import *
from .modeling.layers import *
from .modeling.models.psmnet import *
from .callbacks.loss import *
from .callbacks.schedule import *
from .callbacks.checkpoint import *
from .learner import *
from .modeling.models.gwcnet import *
