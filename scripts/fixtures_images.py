"""Images and torchvision's preprocessing of them: fixtures/images/ (``make_fixtures.py images``).

Four synthetic photo-like images (smooth sky gradients, soft-edged discs, fine stripes that alias
without an antialiasing filter, sensor-like noise), non-square and of odd sizes, as PNG, one JPEG and
one grayscale PNG. ``torchvision.npz`` holds what torchvision 0.14 (PIL 9.4) makes of them: the
uint8 pixels after each geometric transform (``<image>|<transform>``, HxWxC) and one float tensor
after ToTensor + Normalize, which test/images.test.ts compares with neurotap's loader.
"""
from __future__ import annotations

import io
import os
from collections import OrderedDict

import numpy as np
from PIL import Image
from torchvision import transforms as T

from make_fixtures import FIXTURES, maker, save_npz

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


def photo(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    sky = np.stack([90 + 100 * y / height, 140 + 60 * y / height, 230 - 80 * y / height], axis=-1)
    img = sky.copy()
    for _ in range(4):  # soft-edged discs: objects with blurred boundaries
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.1, 0.35) * min(width, height)
        edge = np.clip((r - np.hypot(x - cx, y - cy)) / 3.0, 0, 1)[..., None]
        img = img * (1 - edge) + rng.uniform(20, 250, size=3) * edge
    stripes = (np.sin(x * 2.2 + y * 0.7) > 0)[..., None] * 60.0  # fine texture, aliases without antialiasing
    band = ((y > height * 0.6) & (y < height * 0.75))[..., None]
    img = np.where(band, img * 0.6 + stripes, img)
    img += rng.normal(0, 6, size=img.shape)  # sensor noise
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def encoded(img: Image.Image, fmt: str) -> Image.Image:
    """The image as a decoder reads the written file back (a JPEG is lossy)."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    buf.seek(0)
    return Image.open(buf).convert(img.mode)


@maker("images")
def make_images() -> None:
    out = os.path.join(FIXTURES, "images")
    os.makedirs(out, exist_ok=True)
    images = OrderedDict()
    images["photo-a.png"] = Image.fromarray(photo(320, 240, 1))  # landscape 4:3
    images["photo-b.png"] = Image.fromarray(photo(131, 197, 2))  # portrait, odd sizes (crop offsets round)
    images["photo-c.jpg"] = Image.fromarray(photo(300, 200, 3))
    images["gray-d.png"] = Image.fromarray(photo(90, 61, 4)).convert("L")
    for name, img in images.items():
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        img.save(os.path.join(out, name), format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        images[name] = encoded(img, fmt)

    cases = {
        "resize256-crop224": T.Compose([T.Resize(256), T.CenterCrop(224)]),
        "resize64-crop56": T.Compose([T.Resize(64), T.CenterCrop(56)]),
        "resize50x70": T.Resize((50, 70)),
        "resize150": T.Resize(150),  # upscaling
        "crop150": T.CenterCrop(150),  # larger than a side: zero padding
    }
    plan = {
        "photo-a.png": ["resize256-crop224", "resize64-crop56", "resize50x70", "crop150"],
        "photo-b.png": ["resize64-crop56", "resize50x70", "crop150"],
        "photo-c.jpg": ["resize64-crop56"],
        "gray-d.png": ["resize64-crop56", "resize150"],
    }
    arrays: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, keys in plan.items():
        for key in keys:
            pixels = np.asarray(cases[key](images[name]))
            arrays[f"{name}|{key}"] = pixels.reshape(*pixels.shape[:2], -1)  # HxWxC, C = 1 for grayscale
    grey = T.Compose([T.Grayscale(), T.Resize(64), T.CenterCrop(56)])
    arrays["photo-a.png|grayscale-resize64-crop56"] = np.asarray(grey(images["photo-a.png"]))[..., None]
    tensor = T.Compose([T.Resize(64), T.CenterCrop(56), T.ToTensor(), T.Normalize(**IMAGENET)])
    arrays["photo-b.png|resize64-crop56-imagenet"] = tensor(images["photo-b.png"]).unsqueeze(0).numpy()
    save_npz(os.path.join(out, "torchvision.npz"), arrays)
