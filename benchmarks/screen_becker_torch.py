"""Screening Becker et al.'s nets on a GPU: a PyTorch port of KerasCNNClassifier's recipe.

Not the library's code path and not run by the tests: a port, layer for
layer and step for step, of ``KerasCNNClassifier('alexnet' | 'audionet')``
(the published layouts at ``width``, per-clip standardisation, batch
normalisation recalibrated on the training clips after training, Glorot
initialisation, Adam with a per-epoch cosine decay, batch 32, and the
augmentation: warps, random offsets, channel responses, masks), so that
variants of the recipe can be screened on FSDD's six leave-one-speaker-out
folds on a GPU in minutes instead of hours on two CPU cores. What it finds
is then measured with the library itself (``bench_becker.py``). Its
random numbers are PyTorch's, so a fold's accuracy differs from the
library's by about one seed's spread.

Usage::

    python benchmarks/screen_becker_torch.py prep fsdd.npz      # the library: waveforms, spectrograms
    python benchmarks/screen_becker_torch.py run A1 3 OUTDIR fsdd.npz   # PyTorch: variant A1, fold 3

``prep`` needs this package (no TensorFlow), ``run`` only NumPy and
PyTorch; fold ``k`` tests on the k-th speaker in sorted order (george,
jackson, lucas, nicolas, theo, yweweler). Each run writes
``OUTDIR/<variant>_<fold>.json``: accuracy on the unseen speaker, the
training loss per tenth of the epochs, seconds. ``QUICK=1`` trains 2
epochs on a tenth of the clips, to check the script. Variants: ``V`` below.
"""
import json, math, os, sys, time
import numpy as np

def prep(path):
    """Waveforms and log power spectrograms of all FSDD clips, as ``bench_becker.py`` makes them."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_becker

    w, y, g = bench_becker.load(remove_dc=True)
    S, shape = bench_becker.spectrograms(w)
    speakers = np.unique(g)
    np.savez_compressed(path, w=w.astype(np.float16), S=S.astype(np.float16), y=y,
                        g=np.searchsorted(speakers, g), speakers=speakers.astype(str),
                        shape=np.array(shape))


if __name__ == "__main__" and sys.argv[1] == "prep":  # before PyTorch, which prep lacks
    prep(sys.argv[2])
    sys.exit(0)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
DEV = "cuda" if torch.cuda.is_available() else "cpu"
QUICK = bool(os.environ.get("QUICK"))

BASE_A = dict(net="alexnet", width=0.25, epochs=100, lr=1e-3, warp=0.15, mask=0.15, channel_db=0.0,
              noise=None, wd=0.0, ls=0.0, dropout=0.5, dense_relu=False, seed=0)
BASE_B = dict(BASE_A, net="audionet", epochs=30)
# The variants of benchmarks/RESULTS.md: the library's defaults for the
# AlexNet-like net plus channel_db=10 (A1), that at width 0.5 (A2), with
# white noise at 10-40 dB SNR (A4), and seed 1 of A1 and A4; AudioNet at
# its defaults (B0) and with the noise (B3).
V = {
    "A1": dict(BASE_A, channel_db=10.0),
    "A2": dict(BASE_A, channel_db=10.0, width=0.5),
    "A4": dict(BASE_A, channel_db=10.0, noise=(10.0, 40.0)),
    "A9": dict(BASE_A, channel_db=10.0, seed=1),
    "A10": dict(BASE_A, channel_db=10.0, noise=(10.0, 40.0), seed=1),
    "B0": dict(BASE_B),
    "B3": dict(BASE_B, noise=(10.0, 40.0)),
}
ALEX = ((96, 11, 4, True), (256, 5, 1, True), (384, 3, 1, False), (384, 3, 1, False), (256, 3, 1, False))
AUDIO = (100, 64, 128, 128, 128, 128)


def scaled(u, w):
    return max(1, int(round(u * w)))


def same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class Standardise(nn.Module):
    def forward(self, x):  # LayerNormalization(axis=-1, no scale/offset), eps 1e-3
        m = x.mean(-1, keepdim=True)
        v = ((x - m) ** 2).mean(-1, keepdim=True)
        return (x - m) / torch.sqrt(v + 1e-3)


def bn(c, dims):
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(c, momentum=0.1, eps=1e-3)


class AudioNet(nn.Module):
    def __init__(self, n, k, width, dropout, dense_relu):
        super().__init__()
        self.std = Standardise()
        self.convs, self.bns, cin, length = nn.ModuleList(), nn.ModuleList(), 1, n
        self.pools = []
        for i, f in enumerate(AUDIO, 1):
            c = scaled(f, width)
            self.convs.append(nn.Conv1d(cin, c, 3))
            self.bns.append(bn(c, 1))
            p = 3 if i == 1 else 2
            self.pools.append(p)
            length = -(-length // 2)
            cin = c
        self.d1 = nn.Linear(cin * length, scaled(1024, width))
        self.d2 = nn.Linear(scaled(1024, width), scaled(512, width))
        self.out = nn.Linear(scaled(512, width), k)
        self.drop = nn.Dropout(dropout)
        self.dense_relu = dense_relu

    def forward(self, x):
        x = self.std(x)[:, None, :]
        for conv, b, p in zip(self.convs, self.bns, self.pools):
            x = F.pad(x, same_pad(x.shape[-1], 3, 1))
            x = F.relu(b(conv(x)))
            x = F.pad(x, same_pad(x.shape[-1], p, 2), value=-math.inf)
            x = F.max_pool1d(x, p, 2)
        x = x.flatten(1)
        act = F.relu if self.dense_relu else (lambda t: t)
        x = self.drop(act(self.d1(x)))
        x = self.drop(act(self.d2(x)))
        return self.out(x)


class AlexNet(nn.Module):
    def __init__(self, shape, k, width, dropout, dense_relu):
        super().__init__()
        self.shape = shape
        self.std = Standardise()
        self.convs, self.bns, self.specs = nn.ModuleList(), nn.ModuleList(), []
        cin, h, w = 1, *shape
        for f, ks, s, pool in ALEX:
            c = scaled(f, width)
            self.convs.append(nn.Conv2d(cin, c, ks, stride=s))
            self.bns.append(bn(c, 2) if pool else nn.Identity())
            self.specs.append((ks, s, pool))
            h, w = -(-h // s), -(-w // s)
            if pool:
                h, w = -(-h // 2), -(-w // 2)
            cin = c
        self.d1 = nn.Linear(cin * h * w, scaled(1024, width))
        self.d2 = nn.Linear(scaled(1024, width), scaled(1024, width))
        self.out = nn.Linear(scaled(1024, width), k)
        self.drop = nn.Dropout(dropout)
        self.dense_relu = dense_relu

    def forward(self, x):
        x = self.std(x).reshape(-1, 1, *self.shape)
        for conv, b, (ks, s, pool) in zip(self.convs, self.bns, self.specs):
            ph, pw = same_pad(x.shape[2], ks, s), same_pad(x.shape[3], ks, s)
            x = F.relu(b(conv(F.pad(x, (*pw, *ph)))))
            if pool:
                ph, pw = same_pad(x.shape[2], 3, 2), same_pad(x.shape[3], 3, 2)
                x = F.max_pool2d(F.pad(x, (*pw, *ph), value=-math.inf), 3, 2)
        x = x.flatten(1)
        act = F.relu if self.dense_relu else (lambda t: t)
        x = self.drop(act(self.d1(x)))
        x = self.drop(act(self.d2(x)))
        return self.out(x)


def init_keras(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


# ---- augmentation (torch ports of _cnn_classifier's numpy functions) ----
def resampled(frames, factors, fill):
    n = frames.shape[-1]
    src = torch.arange(n, device=frames.device)[None, :] * factors[:, None]
    low = torch.clamp(torch.floor(src).long(), max=n - 1)
    high = torch.clamp(low + 1, max=n - 1)
    wgt = (src - low).to(frames.dtype)
    shape = (len(frames),) + (1,) * (frames.ndim - 2) + (n,)
    low, high, wgt, src = low.reshape(shape), high.reshape(shape), wgt.reshape(shape), src.reshape(shape)
    low, high = low.expand(frames.shape), high.expand(frames.shape)
    out = torch.gather(frames, -1, low) * (1 - wgt) + torch.gather(frames, -1, high) * wgt
    return torch.where((src > n - 1).expand(frames.shape), fill.expand(frames.shape), out)


def warped(X, shape, warp, g):
    n = len(X)
    draw = lambda: (1 - warp) + 2 * warp * torch.rand(n, device=X.device, generator=g)
    if shape is None:
        return resampled(X, draw(), X[:, -1:])
    fr = X.reshape(n, *shape)
    fr = resampled(fr, draw(), fr[:, :, -1:])
    bf = fr.transpose(1, 2)
    bf = resampled(bf, draw(), bf[:, :, -1:])
    return bf.transpose(1, 2).reshape(n, -1)


def shifted(X, shape, g):
    fr = X[:, None, :] if shape is None else X.reshape(len(X), *shape)
    n = fr.shape[-1]
    differs = (fr != fr[:, :, -1:]).any(1)
    has = differs.any(1)
    start = torch.where(has, differs.float().argmax(1), 0)
    end = torch.where(has, n - differs.flip(1).float().argmax(1), n)
    end = torch.where(end == n - 1, n, end)
    room = n - (end - start) + 1
    offset = (torch.rand(len(X), device=X.device, generator=g) * room).long()
    shift = offset - start
    idx = (torch.arange(n, device=X.device)[None, :] - shift[:, None]) % n
    out = torch.gather(fr, -1, idx[:, None, :].expand(fr.shape))
    return out.reshape(len(X), -1)


def curves(n, n_bins, db, g, dev):
    u = torch.linspace(0, 1, n_bins, device=dev)
    k = torch.arange(1, 5, device=dev, dtype=torch.float32)
    basis = torch.cos(math.pi * k[:, None] * u[None, :]) / k[:, None]
    c = torch.randn(n, 4, device=dev, generator=g) @ basis
    c = c - c.mean(1, keepdim=True)
    peak = c.abs().max(1, keepdim=True).values.clamp_min(1e-12)
    return c / peak * (torch.rand(n, 1, device=dev, generator=g) * db)


def coloured(X, shape, db, g):
    n = len(X)
    if shape is None:
        sp = torch.fft.rfft(X, dim=1)
        gains = 10.0 ** (curves(n, sp.shape[1], db, g, X.device) / 20.0)
        return torch.fft.irfft(sp * gains, n=X.shape[1], dim=1)
    fr = X.reshape(n, *shape)
    floor = fr.amin((1, 2), keepdim=True)
    c = curves(n, shape[0], db, g, X.device)[:, :, None]
    out = torch.where(fr > floor, torch.maximum(fr + c, floor), fr)
    return out.reshape(n, -1)


def noisy(X, shape, snr, g):
    # white noise at a random SNR (dB) relative to the clip's content power
    n = len(X)
    s = snr[0] + (snr[1] - snr[0]) * torch.rand(n, 1, device=X.device, generator=g)
    if shape is None:
        p = (X ** 2).sum(1, keepdim=True) / ((X != 0).sum(1, keepdim=True).clamp_min(1))
        return X + torch.randn(X.shape, device=X.device, generator=g) * torch.sqrt(p * 10 ** (-s / 10))
    fr = X.reshape(n, *shape)
    lin = 10 ** (fr / 10)
    floor = fr.amin((1, 2), keepdim=True)
    content = (fr > floor + 1).float()
    p = (lin * content).sum((1, 2), keepdim=True) / content.sum((1, 2), keepdim=True).clamp_min(1)
    noise_p = p * 10 ** (-s[:, :, None] / 10)
    # exponential (chi2, 2 dof) fluctuation of white noise power per bin
    e = -torch.log(torch.rand(fr.shape, device=X.device, generator=g).clamp_min(1e-12))
    return (10 * torch.log10(lin + noise_p * e)).reshape(n, -1)


def masked(X, shape, frac, g):
    n = len(X)
    fr = X[:, None, :].clone() if shape is None else X.reshape(n, *shape).clone()
    floor = torch.zeros(n, 1, 1, device=X.device) if shape is None else X.amin(1).reshape(n, 1, 1)
    for axis in ((2,) if shape is None else (2, 1)):
        size = fr.shape[axis]
        width = (torch.rand(n, device=X.device, generator=g) * (int(frac * size) + 1)).long()
        start = (torch.rand(n, device=X.device, generator=g) * size).long() % torch.clamp(size - width + 1, min=1)
        pos = torch.arange(size, device=X.device)[None, :]
        inside = (pos >= start[:, None]) & (pos < (start + width)[:, None])
        inside = inside[:, None, :] if axis == 2 else inside[:, :, None]
        fr = torch.where(inside, floor, fr)
    return fr.reshape(n, -1)


def run(name, fold, outdir, data):
    cfg = V[name]
    d = np.load(data)
    y, grp = d["y"].astype(np.int64), d["g"]
    shape = None if cfg["net"] == "audionet" else tuple(int(v) for v in d["shape"])
    X = (d["w"] if shape is None else d["S"]).astype(np.float32)
    tr, te = grp != fold, grp == fold
    if QUICK:
        tr = tr & (np.arange(len(y)) % 10 == 0)
        cfg = dict(cfg, epochs=2)
    Xtr, ytr = torch.tensor(X[tr], device=DEV), torch.tensor(y[tr], device=DEV)
    Xte, yte = torch.tensor(X[te], device=DEV), torch.tensor(y[te], device=DEV)
    torch.manual_seed(cfg["seed"])
    g = torch.Generator(device=DEV); g.manual_seed(cfg["seed"] + 1)
    k = int(y.max()) + 1
    if shape is None:
        model = AudioNet(X.shape[1], k, cfg["width"], cfg["dropout"], cfg["dense_relu"])
    else:
        model = AlexNet(shape, k, cfg["width"], cfg["dropout"], cfg["dense_relu"])
    init_keras(model)
    model.to(DEV)
    if cfg["wd"]:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], eps=1e-7, weight_decay=cfg["wd"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], eps=1e-7)
    bs, E, n = 32, cfg["epochs"], len(Xtr)
    t0 = time.time(); hist = []
    for e in range(E):
        for pg in opt.param_groups:
            pg["lr"] = 0.5 * cfg["lr"] * (1 + math.cos(math.pi * e / E))
        model.train()
        order = torch.randperm(n, device=DEV, generator=g)
        tot = 0.0
        for i in range(0, n, bs):
            rows = order[i:i + bs]
            xb, yb = Xtr[rows], ytr[rows]
            if cfg["warp"]:
                xb = warped(xb, shape, cfg["warp"], g)
            xb = shifted(xb, shape, g)
            if cfg["channel_db"]:
                xb = coloured(xb, shape, cfg["channel_db"], g)
            if cfg["noise"]:
                xb = noisy(xb, shape, cfg["noise"], g)
            if cfg["mask"]:
                xb = masked(xb, shape, cfg["mask"], g)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg["ls"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.detach() * len(rows)
        hist.append(float(tot) / n)
    # recalibrate batch norm on the (unaugmented) training clips
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats(); m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, n, 256):
            model(Xtr[i:i + 256])
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(Xte[i:i + 256]).argmax(1) for i in range(0, len(Xte), 256)])
    acc = float((pred == yte).float().mean())
    res = dict(variant=name, fold=fold, acc=round(acc, 4), loss_last=round(hist[-1], 4),
               loss_10=[round(h, 3) for h in hist[:: max(1, E // 10)]], secs=round(time.time() - t0, 1), cfg={k_: v for k_, v in cfg.items()})
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, f"{name}_{fold}.json"), "w") as f:
        json.dump(res, f)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    run(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
