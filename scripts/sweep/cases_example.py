"""Example sweep cases: the seed's models (every helper adds its own cases_<domain>.py)."""

import torch
import torch.nn as nn

from sweep import Case, case, randomize_norm_stats


@case("seed-mlp")
def seed_mlp():
    return Case(nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)), (torch.randn(2, 10),))


@case("seed-cnn-bn")
def seed_cnn_bn():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    return Case(randomize_norm_stats(m), (torch.randn(2, 3, 16, 16),))
