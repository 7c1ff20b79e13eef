"""Losses for entity matching under heavy class imbalance.

Every loss takes ``y_pred`` as probabilities (the pairwise loss takes any
scores) and is a ``keras.losses.Loss`` registered under ``package="lossmatch"``:
importing this package is enough for ``keras.saving.load_model`` to reload a
model compiled with any of them. Each factory is the ``_target_`` of
``conf/loss/<name>.yaml``.
"""

from lossmatch.losses.bce import bce_loss
from lossmatch.losses.combined import CombinedLoss, combined_loss
from lossmatch.losses.focal import FocalLoss, focal_loss
from lossmatch.losses.pairwise_soft_zero_one import PairwiseSoftZeroOneLoss
from lossmatch.losses.soft_f1 import SoftF1Loss, soft_f1_loss
from lossmatch.losses.soft_fbeta import SoftFBetaLoss, soft_fbeta_loss
from lossmatch.losses.soft_jaccard import SoftJaccardLoss, soft_jaccard_loss
from lossmatch.losses.weighted_bce import WeightedBCELoss, weighted_bce_loss

__all__ = [
    "CombinedLoss",
    "FocalLoss",
    "PairwiseSoftZeroOneLoss",
    "SoftF1Loss",
    "SoftFBetaLoss",
    "SoftJaccardLoss",
    "WeightedBCELoss",
    "bce_loss",
    "combined_loss",
    "focal_loss",
    "soft_f1_loss",
    "soft_fbeta_loss",
    "soft_jaccard_loss",
    "weighted_bce_loss",
]
