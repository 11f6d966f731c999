"""Sweep cases of helper nnzoo: every torch.nn layer class that exports, and everyday PyTorch idioms.

Each model is registered once with the harness's default export (opset 14) and, for a chosen subset,
under export variants: `-op11`, `-op13`, `-op17`, `-nofold` (do_constant_folding=False), `-preserve`
(training=TrainingMode.PRESERVE), `-dyn` (dynamic batch axis), `-func` (export_modules_as_functions).

    /usr/bin/python3 scripts/sweep/sweep.py --out /tmp/sweep-nnzoo 'nn-*'
    node --import tsx scripts/sweep/report.ts --out /tmp/sweep-nnzoo --verbose 'nn-*'
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as parametrize

from sweep import Case, case, randomize_norm_stats
from fixtures_nnzoo import TwoNames  # noqa: E402

VARIANTS = {
    "op11": {"opset_version": 11},
    "op13": {"opset_version": 13},
    "op17": {"opset_version": 17},
    "nofold": {"do_constant_folding": False},
    "preserve": {"training": torch.onnx.TrainingMode.PRESERVE},
    "func": {"export_modules_as_functions": True, "opset_version": 17},
}
ALL = ("op11", "op13", "op17", "nofold", "preserve", "dyn", "func")
SOME = ("op11", "op17", "preserve")


def register(name, make, variants=SOME):
    """Registers `nn-NAME` (default export) and `nn-NAME-VARIANT` for each variant."""

    def build(extra):
        def fn():
            c = make()
            if extra == "dyn":
                names = c.input_names or [f"x{i}" for i in range(len(c.args))]
                c.export = {**c.export, "dynamic_axes": {n: {0: "batch"} for n in names}}
            elif extra:
                c.export = {**c.export, **VARIANTS[extra]}
            return c

        return fn

    case(f"nn-{name}")(build(None))
    for v in variants:
        case(f"nn-{name}-{v}")(build(v))


def simple(name, layers, shape, variants=SOME, dtype=torch.float32, high=None):
    """A Sequential of the layers built by `layers()`, fed a random input of `shape`."""

    def make():
        m = randomize_norm_stats(nn.Sequential(*layers()))
        x = torch.randint(0, high, shape) if high else torch.randn(*shape, dtype=dtype)
        return Case(m, (x,))

    register(name, make, variants)


# --- convolutions -------------------------------------------------------------------------------
simple("conv1d", lambda: [nn.Conv1d(4, 6, 3, padding=1), nn.ReLU(), nn.Conv1d(6, 5, 3, stride=2)], (2, 4, 16), ALL)
simple("conv2d", lambda: [nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(6, 4, 3, groups=2)], (2, 3, 12, 12), ALL)
simple("conv3d", lambda: [nn.Conv3d(2, 4, 3, padding=1), nn.Tanh(), nn.Conv3d(4, 3, 1)], (1, 2, 6, 6, 6))
simple("convtranspose", lambda: [nn.ConvTranspose2d(4, 3, 3, stride=2, output_padding=1), nn.ReLU(), nn.ConvTranspose2d(3, 2, 3, groups=1, dilation=2)], (2, 4, 6, 6), ())
simple("convtranspose1d", lambda: [nn.ConvTranspose1d(4, 3, 3, stride=2), nn.ReLU()], (2, 4, 10))
simple("convtranspose3d", lambda: [nn.ConvTranspose3d(2, 3, 2, stride=2), nn.Sigmoid()], (1, 2, 3, 3, 3))
simple("conv-bn", lambda: [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 1)], (2, 3, 10, 10), ALL)
simple("convT-bn", lambda: [nn.ConvTranspose2d(3, 6, 2, stride=2), nn.BatchNorm2d(6), nn.ReLU()], (2, 3, 5, 5), ALL)

# --- linear layers ------------------------------------------------------------------------------
simple("linear", lambda: [nn.Linear(10, 12), nn.ReLU(), nn.Linear(12, 4, bias=False)], (3, 10), ALL)
simple("linear3d", lambda: [nn.Linear(10, 12), nn.GELU(), nn.Linear(12, 4)], (2, 5, 10), ALL)


# nn.Bilinear (aten::bilinear) and nn.ChannelShuffle (aten::channel_shuffle) do not export with torch 1.13.


def lazy_linear():
    m = nn.Sequential(nn.LazyLinear(7), nn.ReLU(), nn.Linear(7, 3))
    m(torch.randn(2, 9))
    return Case(m, (torch.randn(2, 9),))


register("lazylinear", lazy_linear)

# --- embeddings ---------------------------------------------------------------------------------


class EmbedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8, padding_idx=0)
        self.emb_norm = nn.Embedding(20, 8, max_norm=1.0)
        self.proj = nn.Linear(8, 4)

    def forward(self, ids):
        return self.proj(self.emb(ids) + self.emb_norm(ids))


register("embedding", lambda: Case(EmbedNet(), (torch.tensor([[0, 3, 5, 19], [2, 0, 7, 7]]),)), ALL)


class BagNet(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 6, mode=mode)
        self.fc = nn.Linear(6, 2)

    def forward(self, ids):
        return self.fc(self.bag(ids))


register("embeddingbag-mean", lambda: Case(BagNet("mean"), (torch.tensor([[1, 2, 3], [4, 5, 19]]),)))
register("embeddingbag-sum", lambda: Case(BagNet("sum"), (torch.tensor([[1, 2, 3], [4, 5, 19]]),)))

# --- norms --------------------------------------------------------------------------------------
simple("bn1d", lambda: [nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU()], (4, 6), ALL)
simple("bn1d-seq", lambda: [nn.Conv1d(3, 5, 3), nn.ReLU(), nn.BatchNorm1d(5)], (2, 3, 12))
simple("bn2d-first", lambda: [nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.ReLU()], (2, 3, 8, 8), ALL)
simple("bn3d", lambda: [nn.Conv3d(2, 3, 3), nn.BatchNorm3d(3), nn.ReLU()], (1, 2, 5, 5, 5))
simple("groupnorm", lambda: [nn.Conv2d(4, 6, 3), nn.GroupNorm(3, 6), nn.SiLU()], (2, 4, 8, 8), ALL)
simple("instancenorm", lambda: [nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4), nn.ReLU(), nn.InstanceNorm2d(4, affine=True)], (2, 3, 8, 8), ALL)
simple("instancenorm-stats", lambda: [nn.Conv1d(3, 4, 3), nn.InstanceNorm1d(4, affine=True, track_running_stats=True)], (2, 3, 10))
simple("instancenorm3d", lambda: [nn.InstanceNorm3d(2, affine=True), nn.Conv3d(2, 2, 1)], (1, 2, 4, 4, 4))
simple("layernorm", lambda: [nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 3), nn.LayerNorm(3, elementwise_affine=False)], (2, 5, 8), ALL)
simple("layernorm2d", lambda: [nn.Conv2d(2, 3, 1), nn.LayerNorm([3, 4, 4])], (2, 2, 4, 4))
simple("lrn", lambda: [nn.Conv2d(3, 6, 3), nn.LocalResponseNorm(3), nn.ReLU()], (2, 3, 8, 8))

# --- activations --------------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky": lambda: nn.LeakyReLU(0.2), "prelu": nn.PReLU,
    "prelu-ch": lambda: nn.PReLU(6), "elu": nn.ELU, "selu": nn.SELU, "celu": lambda: nn.CELU(0.5),
    "gelu": nn.GELU, "gelu-tanh": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU,
    "mish": nn.Mish, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "hardtanh": nn.Hardtanh,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softplus": nn.Softplus, "softsign": nn.Softsign,
    "tanhshrink": nn.Tanhshrink, "softshrink": nn.Softshrink, "hardshrink": nn.Hardshrink,
    "logsigmoid": nn.LogSigmoid, "threshold": lambda: nn.Threshold(0.0, -1.0), "rrelu": nn.RReLU,
    "softmax": lambda: nn.Softmax(dim=1), "logsoftmax": lambda: nn.LogSoftmax(dim=1),
    "softmin": lambda: nn.Softmin(dim=1), "glu": lambda: nn.GLU(dim=1),
}
for _name, _act in ACTIVATIONS.items():
    simple(f"act-{_name}", lambda _act=_act, _c=3 if _name == "glu" else 6: [nn.Conv2d(3, 6, 3), _act(), nn.Conv2d(_c, 2, 1)], (2, 3, 8, 8), ("op11", "op17") if _name in ("gelu-tanh", "hardswish", "mish", "prelu", "glu", "softmax") else ())
simple("act-softmax2d", lambda: [nn.Conv2d(3, 6, 3), nn.Softmax2d(), nn.Conv2d(6, 2, 1)], (2, 3, 8, 8), ("op11", "op13"))
simple("act-softmax-last", lambda: [nn.Linear(6, 6), nn.Softmax(dim=-1), nn.Linear(6, 2)], (2, 3, 6), ("op11", "op13"))
simple("act-sigmoid-lin", lambda: [nn.Linear(6, 6), nn.Sigmoid(), nn.Linear(6, 2), nn.Hardswish()], (2, 6), ("op11",))

# --- pooling ------------------------------------------------------------------------------------
simple("maxpool", lambda: [nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)], (2, 3, 12, 12), ALL)
simple("avgpool", lambda: [nn.Conv2d(3, 4, 3), nn.AvgPool2d(2), nn.AvgPool2d(3, padding=1, count_include_pad=False)], (2, 3, 13, 13), ALL)
simple("pool1d3d", lambda: [nn.Conv1d(3, 4, 3), nn.MaxPool1d(2), nn.AvgPool1d(2)], (2, 3, 17))
simple("pool3d", lambda: [nn.Conv3d(2, 3, 1), nn.MaxPool3d(2), nn.AvgPool3d(1)], (1, 2, 4, 4, 4))
simple("lppool", lambda: [nn.Conv2d(3, 4, 3), nn.ReLU(), nn.LPPool2d(2, 2)], (2, 3, 10, 10))
simple("adaptive", lambda: [nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d((2, 2)), nn.AdaptiveMaxPool2d(1), nn.Flatten()], (2, 3, 10, 10), ALL)
simple("adaptive1d", lambda: [nn.Conv1d(3, 4, 3), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 2)], (2, 3, 10))
simple("adaptive-max-nonglobal", lambda: [nn.Conv2d(3, 4, 3), nn.AdaptiveMaxPool2d((2, 2))], (2, 3, 10, 10))


class PoolIndices(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.out = nn.Conv2d(4, 2, 1)

    def forward(self, x):  # nn.MaxUnpool2d (aten::max_unpool2d) does not export with torch 1.13
        y, idx = self.pool(self.conv(x))
        return self.out(y) + idx.float().mean()


register("maxpool-indices", lambda: Case(PoolIndices(), (torch.randn(2, 3, 8, 8),)))


class PoolIndicesOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x):
        y, idx = self.pool(self.conv(x))
        return y * 2, idx


register("maxpool-indices-out", lambda: Case(PoolIndicesOut(), (torch.randn(2, 3, 8, 8),)))

# --- resampling and shape layers ----------------------------------------------------------------
simple("upsample", lambda: [nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(4, 2, 1)], (2, 3, 4, 4), ALL)
simple("upsample-ac", lambda: [nn.Conv2d(3, 4, 1), nn.Upsample(size=(7, 7), mode="bilinear", align_corners=True), nn.UpsamplingNearest2d(scale_factor=2), nn.UpsamplingBilinear2d(scale_factor=2)], (2, 3, 4, 4), ("op11", "op13"))
simple("pixelshuffle", lambda: [nn.Conv2d(3, 8, 1), nn.PixelShuffle(2), nn.Conv2d(2, 4, 1), nn.PixelUnshuffle(2), nn.Conv2d(16, 2, 1)], (2, 3, 4, 4), ALL)
simple("flatten", lambda: [nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 36, 8), nn.Flatten(0, 1)], (2, 3, 8, 8), ALL)
simple("unfold", lambda: [nn.Conv2d(3, 2, 1), nn.Unfold(2, stride=2), nn.ReLU()], (2, 3, 6, 6), ("op11", "op13"))
# nn.Fold (aten::col2im) and nn.Unflatten (aten::unflatten) do not export with torch 1.13.
simple("padding", lambda: [nn.ZeroPad2d((1, 0, 2, 1)), nn.Conv2d(3, 4, 3), nn.ReflectionPad2d(1), nn.ReplicationPad2d(1), nn.ConstantPad2d(1, 0.5), nn.Conv2d(4, 2, 1)], (2, 3, 8, 8), ALL)
simple("padding1d3d", lambda: [nn.ReflectionPad1d(2), nn.Conv1d(3, 3, 3), nn.ReplicationPad1d(1), nn.ConstantPad1d((0, 2), 1.0)], (2, 3, 10))
simple("dropout", lambda: [nn.Linear(6, 8), nn.Dropout(0.5), nn.ReLU(), nn.AlphaDropout(0.2), nn.Linear(8, 4), nn.Identity(), nn.Linear(4, 2)], (3, 6), ALL)
simple("dropout2d", lambda: [nn.Conv2d(3, 4, 3), nn.Dropout2d(), nn.ReLU(), nn.Dropout3d(), nn.FeatureAlphaDropout(), nn.Conv2d(4, 2, 1)], (2, 3, 8, 8), ("preserve",))


class Distances(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 5)
        self.b = nn.Linear(6, 5)
        self.cos = nn.CosineSimilarity(dim=1)
        self.dist = nn.PairwiseDistance()

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return self.cos(a, b) + self.dist(a, b)


register("distances", lambda: Case(Distances(), (torch.randn(4, 6),)), ALL)

# --- attention and transformers -----------------------------------------------------------------


class MHA(nn.Module):
    def __init__(self, batch_first=False, need_weights=True):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
        self.need = need_weights
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = self.proj(x)
        o, w = self.mha(h, h, h, need_weights=self.need)
        return self.out(o), w if w is not None else o


register("mha", lambda: Case(MHA(), (torch.randn(5, 2, 8),)))
register("mha-bf", lambda: Case(MHA(batch_first=True), (torch.randn(2, 5, 8),)))


class MHAFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2)
        self.out = nn.Linear(8, 3)

    def forward(self, q, kv):
        return self.out(self.mha(q, kv, kv)[0])


register("mha-cross", lambda: Case(MHAFirst(), (torch.randn(4, 2, 8), torch.randn(6, 2, 8))))


def encoder(norm_first=False, batch_first=True):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    return nn.TransformerEncoder(layer, 2)


class GradEnabled(nn.Module):
    """Wraps a module so its forward runs with grad enabled, out of the fast path (see the README)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


register("transformer-encoder", lambda: Case(encoder(), (torch.randn(2, 5, 8, requires_grad=True),)), ("op13", "op17"))
register("transformer-encoder-nf", lambda: Case(encoder(norm_first=True, batch_first=False), (torch.randn(5, 2, 8, requires_grad=True),)))


def decoder():
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    return nn.TransformerDecoder(layer, 1)


class Dec(nn.Module):
    def __init__(self):
        super().__init__()
        self.dec = decoder()

    def forward(self, tgt, mem):
        return self.dec(tgt, mem)


register("transformer-decoder", lambda: Case(Dec(), (torch.randn(2, 4, 8), torch.randn(2, 6, 8))))


class Full(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)

    def forward(self, src, tgt):
        return self.t(src, tgt)


register("transformer-full", lambda: Case(Full(), (torch.randn(2, 6, 8), torch.randn(2, 4, 8))))

# --- idioms -------------------------------------------------------------------------------------


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 8)
        self.b = nn.Linear(8, 4)

    def forward(self, x):
        return F.softmax(self.b(F.relu(self.a(x)) * 2), dim=-1)


register("idiom-functional", lambda: Case(Functional(), (torch.randn(3, 6),)), ALL)


class InplaceAfter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.relu(self.bn(self.conv(x)))
        z = self.lin(y)
        z += 1.0
        z.mul_(2)
        return z


register("idiom-inplace", lambda: Case(randomize_norm_stats(InplaceAfter()), (torch.randn(2, 3, 8, 8),)), ALL)


class ChunkSplit(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 12)
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(8, 2)

    def forward(self, x):
        p, q, r = torch.chunk(self.lin(x), 3, dim=-1)
        s, t = torch.split(self.lin(x + 1.0), [4, 8], dim=-1)  # another input: not merged by the exporter
        return self.a(p * q + r) + self.b(t) + s.sum(-1, keepdim=True)


register("idiom-chunk", lambda: Case(ChunkSplit(), (torch.randn(3, 6),)), ALL)


register("idiom-two-names", lambda: Case(TwoNames(), (torch.randn(3, 6),)), ALL)


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.p = nn.Sequential(self.shared, nn.ReLU())
        self.q = nn.Sequential(nn.Tanh(), self.shared)

    def forward(self, x):
        return self.q(self.p(x))


register("idiom-reused-parent", lambda: Case(Shared(), (torch.randn(3, 6),)), ALL)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 6)
        self.mid = nn.Linear(6, 6)
        self.head = nn.Linear(6, 12, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(torch.tanh(self.mid(self.embed(ids))))


register("idiom-tied", lambda: Case(Tied(), (torch.tensor([[1, 2, 3], [4, 5, 11]]),)), ALL)


class Orth(nn.Module):
    def forward(self, w):
        return w.triu() + w.triu(1).transpose(-1, -2)


def parametrized():
    m = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    parametrize.register_parametrization(m[0], "weight", Orth())
    return Case(m, (torch.randn(3, 6),))


register("idiom-parametrize", parametrized, ALL)


def weight_norm():
    m = nn.Sequential(nn.utils.weight_norm(nn.Linear(6, 6)), nn.ReLU(), nn.utils.weight_norm(nn.Conv1d(1, 2, 3)))

    class W(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m[2](self.m[1](self.m[0](x)).unsqueeze(1))

    return Case(W(), (torch.randn(3, 6),))


register("idiom-weightnorm", weight_norm, ALL)


def spectral_norm():
    m = nn.Sequential(nn.utils.spectral_norm(nn.Linear(6, 6)), nn.ReLU(), nn.Linear(6, 2))
    m.eval()
    return Case(m, (torch.randn(3, 6),))


register("idiom-spectralnorm", spectral_norm, ("op11", "preserve"))


class Buffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.linspace(0.5, 2, 6))
        self.register_buffer("shift", torch.randn(6))
        self.lin = nn.Linear(6, 6)
        self.bias = nn.Parameter(torch.randn(6))

    def forward(self, x):
        return self.lin(x * self.scale + self.shift) + self.bias


class BufferUser(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = Buffers()
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        return self.out(self.norm(x))


register("idiom-buffers", lambda: Case(BufferUser(), (torch.randn(3, 6),)), ALL)


class NoGrad(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 2)

    def forward(self, x):
        with torch.no_grad():
            h = self.a(x)
        return self.b(torch.relu(h))


register("idiom-nograd", lambda: Case(NoGrad(), (torch.randn(3, 6),)))


class Containers(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(6, 6), nn.ReLU()) for _ in range(2)])
        self.heads = nn.ModuleDict({"left": nn.Linear(6, 2), "right": nn.Sequential(nn.Linear(6, 3), nn.Tanh())})
        self.deep = nn.Sequential(nn.Sequential(nn.Linear(6, 6), nn.Sequential(nn.ReLU(), nn.Linear(6, 6))), nn.Sigmoid())

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        x = self.deep(x)
        return self.heads["left"](x), self.heads["right"](x)


register("idiom-containers", lambda: Case(Containers(), (torch.randn(3, 6),)), ALL)


class ConstantOut(nn.Module):
    def forward(self, x):
        return torch.ones(2, 3)


class ShapeOut(nn.Module):
    def forward(self, x):
        return torch.tensor(x.shape[-1], dtype=torch.float32)


class PassIdentity(nn.Module):
    def forward(self, x):
        return x


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 3)
        self.const = ConstantOut()
        self.shape = ShapeOut()
        self.same = PassIdentity()
        self.after = nn.Linear(3, 3)

    def forward(self, x):
        y = self.same(self.lin(x))
        return self.after(y + self.const(x)) * self.shape(x)


register("idiom-odd-outputs", lambda: Case(Odd(), (torch.randn(2, 6),)), ALL)


class Broadcast(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bias = nn.Parameter(torch.randn(1, 4, 1, 1))
        self.gamma = nn.Parameter(torch.randn(4, 1, 1))
        self.lin = nn.Linear(4, 2)

    def forward(self, x):
        h = self.conv(x) * self.gamma + self.bias
        return self.lin(h.mean((2, 3)))


register("idiom-broadcast", lambda: Case(Broadcast(), (torch.randn(2, 3, 5, 5),)), ALL)


class ViewBoundary(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.lin = nn.Linear(4, 5)
        self.lin2 = nn.Linear(16, 3)
        self.norm = nn.LayerNorm(5)

    def forward(self, x):
        h = self.conv(x)  # [b, 4, 4, 4]
        t = h.permute(0, 2, 3, 1).contiguous()  # [b, 4, 4, 4] channels last
        y = self.norm(self.lin(t))  # [b, 4, 4, 5]
        z = y.permute(0, 3, 1, 2).reshape(x.shape[0], 5, 16)
        return self.lin2(z.reshape(-1, 16))


register("idiom-view", lambda: Case(ViewBoundary(), (torch.randn(2, 3, 4, 4),)), ALL)


class PermuteInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x.transpose(1, 2)).transpose(1, 2)


class PermuteStack(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = PermuteInside()
        self.b = PermuteInside()

    def forward(self, x):
        return self.b(self.a(x))


register("idiom-permute-pair", lambda: Case(PermuteStack(), (torch.randn(2, 4, 4),)))


class ResidualBN(nn.Module):
    """A ResNet-like block fed by the graph input: its conv1's in: key is the graph input itself."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


register("idiom-residual-bn", lambda: Case(randomize_norm_stats(nn.Sequential(ResidualBN(), ResidualBN())), (torch.randn(2, 4, 6, 6),)), ALL)


class TwoCallsSequential(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(6, 6), nn.ReLU())

    def forward(self, x):
        return self.block(self.block(x) + 1)


register("idiom-two-calls", lambda: Case(TwoCallsSequential(), (torch.randn(3, 6),)))


class ScalarParam(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)
        self.alpha = nn.Parameter(torch.tensor(0.7))

    def forward(self, x):
        return torch.sigmoid(self.lin(x)) * self.alpha + x


register("idiom-scalar-param", lambda: Case(nn.Sequential(ScalarParam(), ScalarParam()), (torch.randn(3, 6),)))
