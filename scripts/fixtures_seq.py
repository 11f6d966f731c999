"""Fixtures for recurrent modules' arguments and torch.nn cells (issue 9, found by the sweep's
``scripts/sweep/cases_seq.py``).

``seq-recurrent-args``
    What recurrent modules receive, by the op's input slots: a 2-layer LSTM given ``(h0, c0)`` (its
    h0 is sliced per layer before the sequence reaches the op, so first-read order put h0 at ``#0``),
    a 2-layer bidirectional GRU given h0, and an LSTM on a PackedSequence (``enforce_sorted=False``,
    lengths as an input): its input and output PackedSequence are not in the graph (reported), its
    states gathered back to the batch order are.
``seq-attention``
    nn.MultiheadAttention called with masks by keyword: its inputs are query, key and value (one value
    three times in self-attention), found from the attention's structure; the masks get no key. Both
    are batch-first, so ``self_attn``'s output swap and ``cross``'s query swap cancel: ``in:cross#0``
    is reported (the graph holds it time-major).
``seq-cells``
    LSTMCell / GRUCell / RNNCell unrolled in a Python loop (one module called T times), exported as
    Gemm/Split ops: inputs ordered by the weight they meet (``weight_ih``: input, ``weight_hh``: h),
    an LSTMCell's ``(h, c)`` from ``h = o * tanh(c)``, c returned although only the next step reads it,
    the first step's zero state reported (no value enters the call).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from make_fixtures import maker, save_fixture, seed_everything, OPSET


class RecurrentArgs(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(4, 6)
        self.lstm = nn.LSTM(6, 5, num_layers=2)
        self.gru = nn.GRU(6, 5, num_layers=2, bidirectional=True)
        self.packed = nn.LSTM(4, 5, batch_first=True)

    def forward(self, x, h0, c0, hg, xp, lengths):
        y = self.pre(x)
        out, (h, c) = self.lstm(y, (h0, c0))
        seq, hn = self.gru(y, hg)
        packed = pack_padded_sequence(xp, lengths, batch_first=True, enforce_sorted=False)
        pout, (ph, pc) = self.packed(packed)
        padded, _ = pad_packed_sequence(pout, batch_first=True, total_length=xp.shape[1])
        return out, h, c, seq, hn, padded, ph, pc


@maker("seq-recurrent-args")
def make_seq_recurrent_args():
    seed_everything()
    inputs = OrderedDict(
        x=torch.randn(5, 2, 4),
        h0=torch.randn(2, 2, 5),
        c0=torch.randn(2, 2, 5),
        hg=torch.randn(4, 2, 5),
        xp=torch.randn(3, 6, 4),
        lengths=torch.tensor([3, 6, 4]),
    )
    kwargs = {
        "output_names": ["out", "h", "c", "seq", "hn", "padded", "ph", "pc"],
        "opset_version": OPSET,
    }
    save_fixture("seq-recurrent-args", RecurrentArgs().eval(), inputs, kwargs,
                 notes="Recurrent modules given h0/c0 (stacked, bidirectional) and one on a PackedSequence.")


class Cells(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm_cell = nn.LSTMCell(4, 5)
        self.gru_cell = nn.GRUCell(4, 5)
        self.rnn_cell = nn.RNNCell(4, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, x, h0):
        h = c = torch.zeros(x.shape[1], 5)
        g, r = h0, torch.zeros(x.shape[1], 5)
        outs = []
        for t in range(x.shape[0]):
            h, c = self.lstm_cell(x[t], (h, c))
            g = self.gru_cell(x[t], g)
            r = self.rnn_cell(x[t], r)
            outs.append(self.head(h + g + r))
        return torch.stack(outs), c


@maker("seq-cells")
def make_seq_cells():
    seed_everything()
    inputs = OrderedDict(x=torch.randn(3, 2, 4), h0=torch.randn(2, 5))
    kwargs = {"output_names": ["output", "c"], "opset_version": OPSET}
    save_fixture("seq-cells", Cells().eval(), inputs, kwargs,
                 notes="LSTMCell/GRUCell/RNNCell unrolled over 3 steps, exported as Gemm/Split ops.")


class Attention(nn.Module):
    """nn.MultiheadAttention as self-attention (a causal float mask by keyword) and as cross-attention
    (kdim != embed_dim, a key padding mask by keyword, per-head weights)."""

    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(8, 8)
        self.self_attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.cross = nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)

    def forward(self, x, memory, mask, padding):
        q = self.pre(x)
        a, w = self.self_attn(q, q, q, attn_mask=mask)
        c, cw = self.cross(a, memory, memory, key_padding_mask=padding, average_attn_weights=False)
        return c, w, cw


@maker("seq-attention")
def make_seq_attention():
    seed_everything()
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[0, -2:] = True
    inputs = OrderedDict(
        x=torch.randn(2, 5, 8),
        memory=torch.randn(2, 6, 6),
        mask=torch.triu(torch.full((5, 5), float("-inf")), 1),
        padding=padding,
    )
    kwargs = {"output_names": ["output", "weights", "cross_weights"], "opset_version": OPSET}
    save_fixture("seq-attention", Attention().eval(), inputs, kwargs,
                 notes="nn.MultiheadAttention self- and cross-attention with masks passed by keyword.")
