"""Fixtures for batch-first recurrent modules whose transposes the exporter merged with a neighbour's
(issue 9, pattern 7, found by the bridge's ``bridge-cases``).

``recurrent-transposed``
    Batch-first GRUs fed ``y.transpose(1, 2)``: the TorchScript exporter merges that transpose with
    the GRU's own batch-first swap into one ``perm [2, 0, 1]`` reading the untransposed ``y``, and
    builds the GRU's zero h0 from a ``Shape`` of the parent's transpose. ``gru_in`` is used as
    ``_, h = gru_in(...)``, ``gru_seq`` as ``out, h = gru_seq(...)``; ``gru_out`` is followed by
    ``out.transpose(1, 2)``, which the exporter merges with the GRU's output swap; ``enc`` wraps a
    batch-first LSTM and is called on a transposed value (the merged transpose inside both calls);
    ``gru_swap`` is called on ``y.transpose(0, 1)``, which cancels against its own swap.
``recurrent-transposed-static``
    The same model exported without dynamic axes: the exporter folds the h0 Shape away, so no value
    in the graph is what the GRUs received. Without ``gru_swap``: with static shapes its graph is
    that of a time-major GRU on the caller's value, and ``in:gru_swap#0`` would be that value (only
    ``neurotap compare`` against PyTorch's hooks shows it).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from make_fixtures import maker, save_fixture, seed_everything, simple_kwargs


class Encoder(nn.Module):
    """A wrapper whose caller transposed its input: the merged transpose sits inside its call too."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 6, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class RecurrentTransposed(nn.Module):
    def __init__(self, swap: bool):
        super().__init__()
        self.swap = swap
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gru_in = nn.GRU(4, 6, batch_first=True)
        self.gru_seq = nn.GRU(4, 6, batch_first=True)
        self.gru_out = nn.GRU(8, 5, batch_first=True)
        self.enc = Encoder()
        if swap:
            self.gru_swap = nn.GRU(8, 5, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        y = self.conv(x)  # [N, 4, 8, 8]
        _, h = self.gru_in(y.mean(3).transpose(1, 2))  # [N, 8, 4]: H as time, C as features
        seq, _ = self.gru_seq(y.mean(2).transpose(1, 2))  # [N, 8, 4]: W as time
        out, _ = self.gru_out(y.mean(3))  # [N, 4, 8]: C as time, H as features
        enc = self.enc(y.mean(1).transpose(1, 2))  # [N, 8, 8]: W as time, H as features
        result = self.head(h[-1] + seq.mean(1) + enc.mean(1)), out.transpose(1, 2)
        if not self.swap:
            return result
        _, state = self.gru_swap(y.mean(3).transpose(0, 1))  # [4, N, 8]: its swap and the caller's cancel
        return result + (state,)


def _save(name: str, dynamic: bool, notes: str):
    seed_everything()
    kwargs = simple_kwargs()
    kwargs["output_names"] = ["output", "sequence"] + (["state"] if dynamic else [])
    kwargs["dynamic_axes"]["sequence"] = {0: "batch"}
    if not dynamic:
        del kwargs["dynamic_axes"]
    save_fixture(name, RecurrentTransposed(swap=dynamic).eval(), OrderedDict(x=torch.randn(2, 3, 8, 8)), kwargs, notes=notes)


@maker("recurrent-transposed")
def make_recurrent_transposed():
    _save("recurrent-transposed", True,
          "Batch-first GRUs/LSTM whose input or output transpose the exporter merged with the caller's "
          "transpose(1, 2); the zero h0 built from a Shape of the caller's transposed value.")


@maker("recurrent-transposed-static")
def make_recurrent_transposed_static():
    _save("recurrent-transposed-static", False,
          "recurrent-transposed without dynamic axes: the h0 Shapes are folded, the received values are gone.")
