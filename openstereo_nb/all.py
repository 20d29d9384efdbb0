"`from openstereo_nb.all import *`: the public API in one import (hand-written re-export hub), ground floor first."
# names and configs
from .registry import *
from .config import *
# data: files, scenes, batch rules, transforms, loaders
from .io import *
from .data.batch import *
from .data.synthetic import *
from .data.readers import *
from .data.transforms import *
from .data.core import *
# scoring and pictures
from .metrics import *
from .viz import *
from .show import *
# modeling: layers, the base model, losses, the zoo
from .modeling.layers import *
from .modeling.base_model import *
from .modeling.losses import *
from .modeling.loss_aggregator import *
from .modeling.models.psmnet import *
from .modeling.models.gwcnet import *
from .modeling.models.msnet import *
from .modeling.models.casnet import *
from .modeling.models.cfnet import *
from .modeling.models.lacgwcnet import *
from .modeling.models.coex import *
from .modeling.models.fadnet import *
from .modeling.models.quickstereo import *
from .modeling.models.aanet import *
from .modeling.models.sttr import STTRNet, STTR, STTR_TERMS, sttr_loss_cfg, STTRRRLoss, STTRL1Loss, STTROccBELoss  # its blocks (Transformer, Tokenizer, ...) stay in the module: generic names
from .modeling.models.ganet import *
from .modeling.models.igev import IGEV, IGEVStereo, IGEVLoss
from .modeling.models.raftstereo import *
from .modeling.models.sgbm import *
# training
from .optim import *
from .callbacks.loss import *
from .callbacks.visual import *
from .callbacks.schedule import *
from .callbacks.checkpoint import *
from .callbacks.faults import *
from .learner import *
from .distributed import *
# after training
from .evaluate import *
from .inference import *
from .export import *
