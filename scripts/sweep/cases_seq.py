"""Sweep cases: recurrent and sequence models, traced (helper "seq", issue 9).

RNN/GRU/LSTM variants (layers, directions, batch_first, bias, dropout, proj_size, h0 given or not,
states used or discarded), packed sequences, cells unrolled over time, seq2seq with attention,
nn.MultiheadAttention with masks, nn.Transformer encoder/decoder with causal masks, Llama-like and
BERT-like blocks in plain torch, Conv1d audio nets, embeddings and token ids with a dynamic length.

    /usr/bin/python3 scripts/sweep/sweep.py --out /tmp/sweep-seq 'seq-*'
    node --import tsx scripts/sweep/report.ts --out /tmp/sweep-seq --verbose 'seq-*'
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sweep import Case, case
import fixtures_seq  # noqa: E402

# --------------------------------------------------------------------------------------------
# RNN / GRU / LSTM: one module used in every way that changes the export
# --------------------------------------------------------------------------------------------

KINDS = {
    "tanh": lambda **k: nn.RNN(nonlinearity="tanh", **k),
    "relu": lambda **k: nn.RNN(nonlinearity="relu", **k),
    "gru": lambda **k: nn.GRU(**k),
    "lstm": lambda **k: nn.LSTM(**k),
}


class Recurrent(nn.Module):
    """``use``: both (out, state), out (`out, _ =`), state (`_, h =`), last (`out[:, -1]` to a head)."""

    def __init__(self, kind, layers=1, bi=False, bf=False, bias=True, dropout=0.0, proj=0, use="both", h0=False):
        super().__init__()
        kw = dict(input_size=6, hidden_size=5, num_layers=layers, bidirectional=bi, batch_first=bf, bias=bias)
        if dropout:
            kw["dropout"] = dropout
        if proj:
            kw["proj_size"] = proj
        self.kind, self.bf, self.use, self.h0 = kind, bf, use, h0
        self.pre = nn.Linear(4, 6)
        self.rnn = KINDS[kind](**kw)
        out = (proj or 5) * (2 if bi else 1)
        self.head = nn.Linear(out, 3)
        self.layers, self.dirs, self.proj = layers, 2 if bi else 1, proj

    def forward(self, x, *state):
        y = self.pre(x)
        if state:
            state = state if self.kind != "lstm" else (tuple(state),)
            out, st = self.rnn(y, *state)
        else:
            out, st = self.rnn(y)
        if self.use == "both":
            return out, st
        if self.use == "out":
            return self.head(out)
        if self.use == "state":
            return st
        last = out[:, -1] if self.bf else out[-1]
        return self.head(last)


def recurrent_case(kind, layers=1, bi=False, bf=False, use="both", h0=False, **kw):
    m = Recurrent(kind, layers, bi, bf, use=use, h0=h0, **kw)
    batch, time = 2, 5
    x = torch.randn(batch, time, 4) if bf else torch.randn(time, batch, 4)
    args = (x,)
    if h0:
        n = layers * (2 if bi else 1)
        h = torch.randn(n, batch, kw.get("proj", 0) or 5)
        args = (x, h) if kind != "lstm" else (x, h, torch.randn(n, batch, 5))
    return Case(m, args)


def _register_recurrent():
    for kind in KINDS:
        for layers in (1, 2, 3):
            for bi in (False, True):
                for bf in (False, True):
                    for use in ("both", "out", "state", "last"):
                        # Cover every (layers, bi, bf, use) for gru/lstm; a slice of them for the RNNs.
                        if kind in ("tanh", "relu") and (layers == 3 or bi and bf or use in ("out", "last")):
                            continue
                        if layers == 3 and use in ("out", "last"):
                            continue
                        for h0 in (False, True):
                            if h0 and use in ("out", "last"):
                                continue
                            name = f"seq-{kind}-l{layers}{'-bi' if bi else ''}{'-bf' if bf else ''}-{use}{'-h0' if h0 else ''}"
                            case(name)(
                                lambda kind=kind, layers=layers, bi=bi, bf=bf, use=use, h0=h0: recurrent_case(
                                    kind, layers, bi, bf, use, h0
                                )
                            )


_register_recurrent()


@case("seq-lstm-nobias")
def lstm_nobias():
    return recurrent_case("lstm", 2, bias=False)


@case("seq-gru-nobias-bf")
def gru_nobias():
    return recurrent_case("gru", 1, bf=True, bias=False)


@case("seq-rnn-nobias-bi")
def rnn_nobias():
    return recurrent_case("tanh", 2, bi=True, bias=False)


@case("seq-lstm-dropout")
def lstm_dropout():
    return recurrent_case("lstm", 2, dropout=0.3)


@case("seq-gru-dropout-bi-bf")
def gru_dropout():
    return recurrent_case("gru", 3, bi=True, bf=True, dropout=0.5)


# LSTM(proj_size>0) is not exported by torch 1.13 ("Unsupported: ONNX export of operator LSTM, LSTMs
# with projections"): no case, nothing to capture.


class Stacked(nn.Module):
    """Recurrent layers with modules between them (norm, dropout, linear)."""

    def __init__(self, bf):
        super().__init__()
        self.bf = bf
        self.lstm1 = nn.LSTM(4, 6, batch_first=bf)
        self.norm = nn.LayerNorm(6)
        self.drop = nn.Dropout(0.2)
        self.gru = nn.GRU(6, 5, batch_first=bf, bidirectional=True)
        self.proj = nn.Linear(10, 6)
        self.lstm2 = nn.LSTM(6, 4, batch_first=bf)

    def forward(self, x):
        a, _ = self.lstm1(x)
        b, h = self.gru(self.drop(self.norm(a)))
        c, (hn, cn) = self.lstm2(self.proj(b))
        return c, h, hn


@case("seq-stacked-between")
def stacked_between():
    return Case(Stacked(False), (torch.randn(5, 2, 4),))


@case("seq-stacked-between-bf")
def stacked_between_bf():
    return Case(Stacked(True), (torch.randn(2, 5, 4),))


class StackedDirect(nn.Module):
    """Batch-first recurrent layers fed one into the next (transposes cancel)."""

    def __init__(self):
        super().__init__()
        self.a = nn.GRU(4, 6, batch_first=True)
        self.b = nn.LSTM(6, 5, batch_first=True)
        self.c = nn.GRU(5, 3, batch_first=True)

    def forward(self, x):
        a, _ = self.a(x)
        b, _ = self.b(a)
        c, h = self.c(b)
        return c, h


@case("seq-stacked-direct-bf")
def stacked_direct():
    return Case(StackedDirect(), (torch.randn(2, 5, 4),))


class GruTransposed(nn.Module):
    """A GRU fed a transposed conv feature map (channels as features)."""

    def __init__(self, bf):
        super().__init__()
        self.conv = nn.Conv1d(3, 6, 3, padding=1)
        self.gru = nn.GRU(6, 5, batch_first=bf)
        self.bf = bf
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        y = self.conv(x)  # [N, C, T]
        y = y.transpose(1, 2) if self.bf else y.permute(2, 0, 1)
        out, h = self.gru(y)
        return self.fc(out), h


@case("seq-gru-transposed-bf")
def gru_transposed_bf():
    return Case(GruTransposed(True), (torch.randn(2, 3, 7),))


@case("seq-gru-transposed-tm")
def gru_transposed_tm():
    return Case(GruTransposed(False), (torch.randn(2, 3, 7),))


@case("seq-gru-transposed-bf-dyn")
def gru_transposed_bf_dyn():
    return Case(
        GruTransposed(True),
        (torch.randn(3, 3, 9),),
        export={"dynamic_axes": {"x0": {0: "batch", 2: "time"}}},
        export_args=(torch.randn(2, 3, 7),),
    )


# --------------------------------------------------------------------------------------------
# Packed sequences
# --------------------------------------------------------------------------------------------


class Packed(nn.Module):
    def __init__(self, kind="lstm", bf=True, sorted_=True, lengths=None, bi=False):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, batch_first=bf, bidirectional=bi) if kind == "lstm" else nn.GRU(4, 5, batch_first=bf)
        self.bf, self.sorted_, self.lengths = bf, sorted_, lengths
        self.fc = nn.Linear(10 if bi else 5, 2)

    def forward(self, x, *lengths):
        lengths = lengths[0] if lengths else torch.tensor(self.lengths)
        packed = pack_padded_sequence(x, lengths, batch_first=self.bf, enforce_sorted=self.sorted_)
        out, state = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=self.bf, total_length=x.shape[1 if self.bf else 0])
        return self.fc(out), state


@case("seq-packed-lengths-input")
def packed_input():
    return Case(Packed(), (torch.randn(3, 6, 4), torch.tensor([6, 4, 2])))


@case("seq-packed-lengths-const")
def packed_const():
    return Case(Packed(lengths=[6, 5, 3]), (torch.randn(3, 6, 4),))


@case("seq-packed-unsorted")
def packed_unsorted():
    return Case(Packed(sorted_=False), (torch.randn(3, 6, 4), torch.tensor([3, 6, 4])))


@case("seq-packed-gru-tm")
def packed_gru_tm():
    return Case(Packed("gru", bf=False), (torch.randn(6, 3, 4), torch.tensor([6, 5, 2])))


@case("seq-packed-bi")
def packed_bi():
    return Case(Packed(bi=True), (torch.randn(3, 6, 4), torch.tensor([6, 4, 2])))


# --------------------------------------------------------------------------------------------
# Cells unrolled in a Python loop
# --------------------------------------------------------------------------------------------


class Unrolled(nn.Module):
    def __init__(self, kind, steps=4, use_c=True):
        super().__init__()
        self.kind, self.steps, self.use_c = kind, steps, use_c
        self.cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[kind](4, 5)
        self.out = nn.Linear(5, 2)

    def forward(self, x, *state):
        h = state[0] if state else torch.zeros(x.shape[1], 5)
        c = state[1] if len(state) > 1 else torch.zeros(x.shape[1], 5)
        outs = []
        for t in range(self.steps):
            if self.kind == "lstm":
                h, c = self.cell(x[t], (h, c))
            else:
                h = self.cell(x[t], h)
            outs.append(self.out(h))
        res = torch.stack(outs)
        return (res, c) if self.kind == "lstm" and self.use_c else res


@case("seq-cell-lstm")
def cell_lstm():
    return Case(Unrolled("lstm"), (torch.randn(4, 2, 4),))


@case("seq-cell-lstm-state")
def cell_lstm_state():
    return Case(Unrolled("lstm"), (torch.randn(4, 2, 4), torch.randn(2, 5), torch.randn(2, 5)))


@case("seq-cell-lstm-noc")
def cell_lstm_noc():
    return Case(Unrolled("lstm", use_c=False), (torch.randn(4, 2, 4),))


@case("seq-cell-gru")
def cell_gru():
    return Case(Unrolled("gru"), (torch.randn(4, 2, 4),))


@case("seq-cell-gru-state")
def cell_gru_state():
    return Case(Unrolled("gru"), (torch.randn(4, 2, 4), torch.randn(2, 5)))


@case("seq-cell-rnn")
def cell_rnn():
    return Case(Unrolled("rnn"), (torch.randn(4, 2, 4),))


class CellNoState(nn.Module):
    """A cell called without a state (its zero state built inside the call)."""

    def __init__(self, kind):
        super().__init__()
        self.cell = nn.LSTMCell(4, 5) if kind == "lstm" else nn.GRUCell(4, 5)
        self.kind = kind

    def forward(self, x):
        out = self.cell(x)
        return out


@case("seq-cell-lstm-nostate")
def cell_lstm_nostate():
    return Case(CellNoState("lstm"), (torch.randn(2, 4),))


@case("seq-cell-gru-nostate")
def cell_gru_nostate():
    return Case(CellNoState("gru"), (torch.randn(2, 4),))


# --------------------------------------------------------------------------------------------
# seq2seq, attention decoders
# --------------------------------------------------------------------------------------------


class Bahdanau(nn.Module):
    def __init__(self, enc, dec, att):
        super().__init__()
        self.W = nn.Linear(enc, att, bias=False)
        self.U = nn.Linear(dec, att)
        self.v = nn.Linear(att, 1, bias=False)

    def forward(self, h, memory):  # h [N, dec], memory [N, T, enc]
        e = self.v(torch.tanh(self.W(memory) + self.U(h).unsqueeze(1))).squeeze(2)
        a = F.softmax(e, dim=1)
        return torch.bmm(a.unsqueeze(1), memory).squeeze(1), a


class Luong(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.Wa = nn.Linear(dim, dim, bias=False)

    def forward(self, h, memory):
        scores = torch.bmm(memory, self.Wa(h).unsqueeze(2)).squeeze(2)
        a = F.softmax(scores, dim=1)
        return torch.bmm(a.unsqueeze(1), memory).squeeze(1), a


class Seq2Seq(nn.Module):
    def __init__(self, attention, steps=3, teacher=True):
        super().__init__()
        self.steps, self.teacher, self.attention_kind = steps, teacher, attention
        self.src_emb = nn.Embedding(11, 6, padding_idx=0)
        self.tgt_emb = nn.Embedding(9, 6)
        self.encoder = nn.GRU(6, 8, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(16, 8)
        self.attn = Bahdanau(16, 8, 7) if attention == "bahdanau" else (Luong(16) if attention == "luong" else None)
        self.to_dec = nn.Linear(8, 16) if attention == "luong" else None
        self.cell = nn.GRUCell(6 + (16 if attention else 0), 8)
        self.out = nn.Linear(8, 9)

    def forward(self, src, tgt):
        memory, h = self.encoder(self.src_emb(src))
        s = torch.tanh(self.bridge(torch.cat([h[0], h[1]], 1)))
        logits = []
        token = tgt[:, 0]
        for t in range(self.steps):
            emb = self.tgt_emb(token)
            if self.attention_kind == "bahdanau":
                ctx, _ = self.attn(s, memory)
                emb = torch.cat([emb, ctx], 1)
            elif self.attention_kind == "luong":
                ctx, _ = self.attn(self.to_dec(s), memory)
                emb = torch.cat([emb, ctx], 1)
            s = self.cell(emb, s)
            step = self.out(s)
            logits.append(step)
            token = tgt[:, t + 1] if self.teacher else step.argmax(1)
        return torch.stack(logits, 1)


def _tokens():
    src = torch.tensor([[3, 5, 7, 2, 0, 0], [4, 4, 9, 1, 8, 2]])
    tgt = torch.tensor([[1, 2, 3, 4], [1, 5, 6, 7]])
    return src, tgt


@case("seq-seq2seq-teacher")
def seq2seq_teacher():
    return Case(Seq2Seq(None), _tokens())


@case("seq-seq2seq-greedy")
def seq2seq_greedy():
    return Case(Seq2Seq(None, teacher=False), _tokens())


@case("seq-seq2seq-bahdanau")
def seq2seq_bahdanau():
    return Case(Seq2Seq("bahdanau"), _tokens())


@case("seq-seq2seq-luong")
def seq2seq_luong():
    return Case(Seq2Seq("luong"), _tokens())


class LstmEncDec(nn.Module):
    """An LSTM encoder whose (h, c) initialises an LSTM decoder (teacher forcing, whole sequence)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.encoder = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.decoder = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.out = nn.Linear(8, 10)

    def forward(self, src, tgt):
        _, state = self.encoder(self.emb(src))
        dec, _ = self.decoder(self.emb(tgt), state)
        return self.out(dec)


@case("seq-lstm-encdec")
def lstm_encdec():
    return Case(LstmEncDec(), (torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 1]]), torch.tensor([[0, 1, 2], [0, 3, 4]])))


# --------------------------------------------------------------------------------------------
# nn.MultiheadAttention
# --------------------------------------------------------------------------------------------


class Mha(nn.Module):
    def __init__(self, attn_mask=False, kpm=False, need=True, avg=True, bf=True, cross=False, kdim=None):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=bf, kdim=kdim, vdim=kdim)
        self.attn_mask, self.kpm, self.need, self.avg, self.cross, self.bf = attn_mask, kpm, need, avg, cross, bf
        self.pre = nn.Linear(8, 8)
        self.post = nn.Linear(8, 8)

    def forward(self, x, *extra):
        q = self.pre(x)
        kv = extra[0] if self.cross else q
        rest = extra[1:] if self.cross else extra
        kw = {"need_weights": self.need, "average_attn_weights": self.avg}
        i = 0
        if self.attn_mask:
            kw["attn_mask"] = rest[i]
            i += 1
        if self.kpm:
            kw["key_padding_mask"] = rest[i]
        out, w = self.mha(q, kv, kv, **kw)
        return (self.post(out), w) if self.need else self.post(out)


def _causal(n):
    return torch.triu(torch.full((n, n), float("-inf")), 1)


def _kpm(n, s):
    m = torch.zeros(n, s, dtype=torch.bool)
    m[0, -2:] = True
    return m


@case("seq-mha-plain")
def mha_plain():
    return Case(Mha(), (torch.randn(2, 5, 8),))


@case("seq-mha-noweights")
def mha_noweights():
    return Case(Mha(need=False), (torch.randn(2, 5, 8),))


@case("seq-mha-perhead")
def mha_perhead():
    return Case(Mha(avg=False), (torch.randn(2, 5, 8),))


@case("seq-mha-causal-float")
def mha_causal():
    return Case(Mha(attn_mask=True), (torch.randn(2, 5, 8), _causal(5)))


@case("seq-mha-causal-bool")
def mha_causal_bool():
    return Case(Mha(attn_mask=True, avg=False), (torch.randn(2, 5, 8), torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)))


@case("seq-mha-kpm")
def mha_kpm():
    return Case(Mha(kpm=True), (torch.randn(2, 5, 8), _kpm(2, 5)))


@case("seq-mha-both-masks-tm")
def mha_both_tm():
    return Case(Mha(attn_mask=True, kpm=True, bf=False), (torch.randn(5, 2, 8), _causal(5), _kpm(2, 5)))


@case("seq-mha-cross-kdim")
def mha_cross():
    return Case(Mha(cross=True, kpm=True, kdim=6), (torch.randn(2, 4, 8), torch.randn(2, 6, 6), _kpm(2, 6)))


# --------------------------------------------------------------------------------------------
# nn.Transformer encoder / decoder
# --------------------------------------------------------------------------------------------


class TEnc(nn.Module):
    def __init__(self, bf=False, norm_first=False, mask=True, final_norm=True, act="relu"):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=bf, norm_first=norm_first, activation=act)
        self.enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8) if final_norm else None)
        self.mask = mask

    def forward(self, x, *mask):
        return self.enc(x, mask=mask[0]) if mask else self.enc(x)


@case("seq-tenc-causal")
def tenc_causal():
    return Case(TEnc(), (torch.randn(5, 2, 8), _causal(5)))


@case("seq-tenc-causal-bf-normfirst")
def tenc_causal_nf():
    return Case(TEnc(bf=True, norm_first=True, act="gelu"), (torch.randn(2, 5, 8), _causal(5)))


@case("seq-tenc-nomask-tm")
def tenc_nomask():
    return Case(TEnc(final_norm=False), (torch.randn(5, 2, 8),))


class TDec(nn.Module):
    def __init__(self, bf=True):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(8, 2, 16, batch_first=bf, norm_first=True)
        layer = nn.TransformerDecoderLayer(8, 2, 16, batch_first=bf)
        self.dec = nn.TransformerDecoder(layer, 2)

    def forward(self, src, tgt, tgt_mask, mem_kpm):
        memory = self.enc(src, src_key_padding_mask=mem_kpm)
        return self.dec(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=mem_kpm)


@case("seq-tdec-causal")
def tdec_causal():
    return Case(TDec(), (torch.randn(2, 6, 8), torch.randn(2, 4, 8), _causal(4), _kpm(2, 6)))


class FullTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)

    def forward(self, src, tgt, mask):
        return self.t(src, tgt, tgt_mask=mask)


@case("seq-transformer-full")
def transformer_full():
    return Case(FullTransformer(), (torch.randn(2, 6, 8), torch.randn(2, 4, 8), _causal(4)))


# --------------------------------------------------------------------------------------------
# Llama-like decoder in plain torch
# --------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(dim) + 0.5)
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)), persistent=False)

    def forward(self, positions):  # [T]
        freqs = positions[:, None].float() * self.inv_freq[None]
        emb = torch.cat([freqs, freqs], -1)
        return emb.cos(), emb.sin()


def rotate_half(x):
    a, b = x.chunk(2, -1)
    return torch.cat([-b, a], -1)


def repeat_kv(x, n):
    b, h, t, d = x.shape
    return x if n == 1 else x[:, :, None].expand(b, h, n, t, d).reshape(b, h * n, t, d)


class Attention(nn.Module):
    def __init__(self, dim=16, heads=4, kv_heads=2):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, cos, sin, mask, past=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], 2)
            v = torch.cat([past[1], v], 2)
        present = (k, v)
        k, v = repeat_kv(k, self.heads // self.kv_heads), repeat_kv(v, self.heads // self.kv_heads)
        s = q @ k.transpose(2, 3) / math.sqrt(self.hd) + mask
        out = (F.softmax(s, -1) @ v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, dim=16, hidden=24):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm(16)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(16)
        self.mlp = MLP()

    def forward(self, x, cos, sin, mask, past=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Llama(nn.Module):
    def __init__(self, cache=False):
        super().__init__()
        self.cache = cache
        self.embed_tokens = nn.Embedding(20, 16)
        self.rotary_emb = Rotary(4)
        self.layers = nn.ModuleList([Block() for _ in range(2)])
        self.norm = RMSNorm(16)
        self.lm_head = nn.Linear(16, 20, bias=False)

    def forward(self, ids, *past):
        t = ids.shape[1]
        p = past[0].shape[2] if past else 0
        cos, sin = self.rotary_emb(torch.arange(p, p + t))
        mask = torch.triu(torch.full((t, t + p), float("-inf")), 1 + p)
        x = self.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, cos, sin, mask, (past[2 * i], past[2 * i + 1]) if past else None)
            presents += list(present)
        logits = self.lm_head(self.norm(x))
        return (logits, *presents) if self.cache else logits


@case("seq-llama")
def llama():
    return Case(Llama(), (torch.randint(0, 20, (2, 5)),), input_names=["input_ids"])


@case("seq-llama-cache")
def llama_cache():
    past = tuple(torch.randn(2, 2, 3, 4) for _ in range(4))
    return Case(Llama(cache=True), (torch.randint(0, 20, (2, 2)), *past))


@case("seq-llama-dyn")
def llama_dyn():
    return Case(
        Llama(),
        (torch.randint(0, 20, (3, 7)),),
        input_names=["input_ids"],
        export={"dynamic_axes": {"input_ids": {0: "batch", 1: "seq"}}},
        export_args=(torch.randint(0, 20, (2, 5)),),
    )


# --------------------------------------------------------------------------------------------
# BERT-like encoder blocks
# --------------------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(0.1)

    def split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
        p = self.dropout(s.softmax(-1))
        c = (p @ v).permute(0, 2, 1, 3).contiguous()
        return c.view(c.shape[0], c.shape[1], -1)


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = SelfAttention()
        self.attn_out = nn.Linear(16, 16)
        self.ln1 = nn.LayerNorm(16)
        self.intermediate = nn.Sequential(nn.Linear(16, 32), nn.GELU())
        self.output = nn.Linear(32, 16)
        self.ln2 = nn.LayerNorm(16)

    def forward(self, x, mask):
        x = self.ln1(x + self.attn_out(self.attention(x, mask)))
        return self.ln2(x + self.output(self.intermediate(x)))


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(30, 16, padding_idx=0)
        self.position = nn.Embedding(12, 16)
        self.token_type = nn.Embedding(2, 16)
        self.ln = nn.LayerNorm(16)
        self.layer = nn.ModuleList([BertLayer() for _ in range(2)])
        self.pooler = nn.Sequential(nn.Linear(16, 16), nn.Tanh())

    def forward(self, ids, attention_mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.ln(self.word(ids) + self.position(pos) + self.token_type(torch.zeros_like(ids)))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layer:
            x = layer(x, mask)
        return x, self.pooler(x[:, 0])


def _bert_inputs(b, t):
    ids = torch.randint(1, 30, (b, t))
    ids[0, -2:] = 0
    mask = (ids != 0).long()
    return ids, mask


@case("seq-bert")
def bert():
    return Case(Bert(), _bert_inputs(2, 6), input_names=["input_ids", "attention_mask"])


@case("seq-bert-dyn")
def bert_dyn():
    return Case(
        Bert(),
        _bert_inputs(3, 9),
        input_names=["input_ids", "attention_mask"],
        export={"dynamic_axes": {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}}},
        export_args=_bert_inputs(2, 6),
    )


# --------------------------------------------------------------------------------------------
# Conv1d audio nets
# --------------------------------------------------------------------------------------------


class Chomp(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        return x[:, :, : -self.n].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, c, dilation):
        super().__init__()
        pad = 2 * dilation
        self.conv = nn.Conv1d(c, c, 3, padding=pad, dilation=dilation)
        self.chomp = Chomp(pad)
        self.norm = nn.GroupNorm(1, c)
        self.act = nn.PReLU()
        self.depthwise = nn.Conv1d(c, c, 3, padding=dilation, dilation=dilation, groups=c)
        self.res = nn.Conv1d(c, c, 1)

    def forward(self, x):
        y = self.act(self.norm(self.chomp(self.conv(x))))
        return x + self.res(self.depthwise(y))


class TasNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv1d(1, 8, 4, stride=2, bias=False)
        self.bottleneck = nn.Conv1d(8, 8, 1)
        self.tcn = nn.Sequential(*[TemporalBlock(8, 2**i) for i in range(3)])
        self.mask = nn.Conv1d(8, 16, 1)
        self.decoder = nn.ConvTranspose1d(8, 1, 4, stride=2, bias=False)

    def forward(self, wav):
        w = F.relu(self.encoder(wav))
        m = torch.sigmoid(self.mask(self.tcn(self.bottleneck(w)))).view(w.shape[0], 2, 8, -1)
        return self.decoder((w.unsqueeze(1) * m).view(-1, 8, w.shape[-1]))


@case("seq-tasnet")
def tasnet():
    return Case(TasNet(), (torch.randn(2, 1, 64),))


class FeatureExtractor(nn.Module):
    """wav2vec 2.0-like: conv stack (GroupNorm on the first layer), GELU, then a projection."""

    def __init__(self):
        super().__init__()
        layers = []
        for i, (k, s) in enumerate([(10, 5), (3, 2), (2, 2)]):
            conv = nn.Conv1d(1 if i == 0 else 8, 8, k, stride=s, bias=False)
            block = [conv, nn.GroupNorm(8, 8, affine=True), nn.GELU()] if i == 0 else [conv, nn.GELU()]
            layers.append(nn.Sequential(*block))
        self.conv_layers = nn.ModuleList(layers)
        self.layer_norm = nn.LayerNorm(8)
        self.projection = nn.Linear(8, 12)
        self.pos_conv = nn.Conv1d(12, 12, 5, padding=2, groups=2)

    def forward(self, wav):
        x = wav.unsqueeze(1)
        for conv in self.conv_layers:
            x = conv(x)
        x = self.projection(self.layer_norm(x.transpose(1, 2)))
        return x + F.gelu(self.pos_conv(x.transpose(1, 2))).transpose(1, 2)


@case("seq-wav2vec-fe")
def wav2vec_fe():
    return Case(FeatureExtractor(), (torch.randn(2, 400),))


@case("seq-wav2vec-fe-dyn")
def wav2vec_fe_dyn():
    return Case(
        FeatureExtractor(),
        (torch.randn(1, 560),),
        export={"dynamic_axes": {"x0": {0: "b", 1: "samples"}}},
        export_args=(torch.randn(2, 400),),
    )


# --------------------------------------------------------------------------------------------
# Embeddings and token ids with a dynamic length
# --------------------------------------------------------------------------------------------


class TextRnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(15, 6, padding_idx=0)
        self.rnn = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, ids):
        out, (h, c) = self.rnn(self.emb(ids))
        return self.fc(out.mean(1)), h


@case("seq-textrnn-dyn")
def textrnn_dyn():
    ids = torch.tensor([[1, 2, 3, 0, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 3, 2], [14, 0, 0, 0, 0, 0, 0, 0]])
    return Case(
        TextRnn(),
        (ids,),
        input_names=["ids"],
        export={"dynamic_axes": {"ids": {0: "b", 1: "t"}}},
        export_args=(torch.tensor([[3, 4, 0, 0, 0], [5, 6, 7, 8, 9]]),),
    )


@case("seq-embedding-bag")
def embedding_bag():
    m = nn.Sequential(nn.EmbeddingBag(15, 6, mode="mean"), nn.Linear(6, 2))
    return Case(m, (torch.tensor([[1, 2, 3], [4, 5, 6]]),))


@case("seq-mha-chain-bf")
def mha_chain():
    # The seq-attention fixture's model: a batch-first self-attention, then a cross-attention reading it.
    return Case(fixtures_seq.Attention(), (torch.randn(2, 5, 8), torch.randn(2, 6, 6), _causal(5), _kpm(2, 6)))
