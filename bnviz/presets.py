"""Classroom presets: named configurations, most one change away from the blog's, and the
learning-rate sweeps some of them come with."""

from __future__ import annotations

from bnviz.config import MLP_SIGMOID, NORMALIZATIONS, ExperimentConfig
from bnviz.sweep import SweepRequest

_BLOG = ExperimentConfig()
LANDING_PRESET = "The blog post"  # what a visit without a link opens on

PRESETS: dict[str, tuple[ExperimentConfig, str]] = {
    "The blog post": (_BLOG, "The post's experiment exactly: raw pixels, Adam 0.001, batch 64."),
    "Quick look": (_BLOG.replace(epochs=20), "The blog's setup for 20 epochs: enough to see "
                   "the BN model pull ahead, in a fraction of the time."),
    "BN before ReLU": (_BLOG.replace(placement="before"), "Ioffe & Szegedy's placement: "
                       "Conv → BN → ReLU."),
    "Scaled pixels": (_BLOG.replace(scale_pixels=True), "Inputs scaled to [0, 1]: does BN "
                      "still help when the data are already well scaled?"),
    "High learning rate": (_BLOG.replace(learning_rate=0.01), "Ten times Adam's default "
                           "step size: BN is said to tolerate larger steps."),
    "Small batches": (_BLOG.replace(batch_size=8), "Batches of 8: BN's batch statistics "
                      "become noisy."),
    # Both with BN's place before the ReLU, as in Santurkar et al.'s noisy-BN experiment; read
    # against "BN before ReLU", the same settings with batch norm itself.
    "Noisy BN (Santurkar)": (_BLOG.replace(placement="before", normalization="noisy-batch"),
                             "Santurkar et al.'s noise (a random scale and shift that change "
                             "at every step) after every BN layer, BN before the ReLU: if "
                             "steadying each layer's inputs were why BN works, this should "
                             "train much slower than BN before ReLU."),
    "Noise without BN (control)": (_BLOG.replace(placement="before",
                                                 normalization="noise-only"),
                                   "The same noise where the BN layers would be, without BN: "
                                   "Santurkar et al.'s control, what the noise does when "
                                   "nothing re-normalises after it."),
    "Santurkar's setup": (_BLOG.replace(optimizer="sgd", learning_rate=3e-3), "Plain SGD, as "
                          "Santurkar et al. trained, at 0.003: the largest rate of the grid "
                          "(1e-5 to 1e-2, steps of about 3×) at which the baseline still "
                          "trains (at 0.01 it diverges). With SGD the step taken is −lr·g, so "
                          "Why BN helps shows their measure exactly."),
    "Small batches: BN vs GroupNorm": (_BLOG.replace(batch_size=8, normalization="group"),
                                       "Batches of 8 with GroupNorm in BN's place: it "
                                       "normalises each image on its own, so small batches "
                                       "cannot hurt it; compare with Small batches (BN)."),
    # Ioffe & Szegedy (2015, §4.1): 50,000 steps of 60 images. 3,000 training images make 50
    # steps an epoch, so 1,000 epochs are their 50,000 steps; a probe every 250 steps keeps the
    # stored landscape small over so many steps. The paper names no optimizer or rate: plain
    # SGD at 0.1 is bnviz's choice (the baseline learns at it, if slowly).
    "Ioffe & Szegedy's MLP": (_BLOG.replace(
        architecture=MLP_SIGMOID, placement="before", batch_size=60, train_size=3000,
        epochs=1000, optimizer="sgd", learning_rate=0.1, landscape_every=250),
        "The paper's own test (their Fig. 1): three layers of 100 sigmoid units, BN before "
        "each sigmoid, batches of 60 for 50,000 steps, on binarised images. Inside BN follows "
        "what the last sigmoid receives over training."),
    "BN and the learning rate (Bjorck)": (_BLOG.replace(optimizer="sgd", learning_rate=0.1),
                                          "Plain SGD at 0.1, where the baseline cannot "
                                          "train and BN can: Bjorck et al. (2018) found BN's "
                                          "main gift is permitting larger rates. Its Learning "
                                          "rates tab holds the sweep: compare the models at "
                                          "matched small rates too."),
}

# The learning-rate sweep each of these presets comes with (in the gallery, so the Learning
# rates tab shows it at once): SGD from 1e-4 to 0.3, the grid's steps of about 3×.
PRESET_SWEEPS: dict[str, tuple[tuple[float, ...], int]] = {
    "BN and the learning rate (Bjorck)": ((1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1), 20),
}


# The blog's settings with one knob moved, to the values a visitor tries first: precomputed too
# (`bnviz.gallery`), so the common what-ifs open at once. Those a preset already is are left
# out (`gallery_configs`).
WHAT_IFS: dict[str, ExperimentConfig] = {
    **{f"Batch size {size}": _BLOG.replace(batch_size=size) for size in (16, 32, 128, 256)},
    **{f"Learning rate {rate:g}": _BLOG.replace(learning_rate=rate) for rate in (1e-4, 1e-2)},
    "BN before the ReLU": _BLOG.replace(placement="before"),
    **{f"Normalisation {name}": _BLOG.replace(normalization=name)
       for name in NORMALIZATIONS if name != _BLOG.normalization},
    "Optimizer SGD": _BLOG.replace(optimizer="sgd"),
    **{f"{size:,} training images": _BLOG.replace(train_size=size) for size in (300, 3000)},
    "Official test split": _BLOG.replace(split="official"),
    "Scaled pixels to [0, 1]": _BLOG.replace(scale_pixels=True),
}


def gallery_configs() -> dict[str, ExperimentConfig]:
    """Every configuration the gallery precomputes, by name: the presets, then the what-ifs
    that are not already a preset."""
    configs = {name: config for name, (config, _) in PRESETS.items()}
    for name, config in WHAT_IFS.items():
        if config not in configs.values():
            configs[name] = config
    return configs


def preset_sweep(name: str, config: ExperimentConfig) -> SweepRequest | None:
    """The learning-rate sweep preset ``name`` comes with, on ``config`` (its gallery
    configuration), or None."""
    if name not in PRESET_SWEEPS:
        return None
    rates, epochs = PRESET_SWEEPS[name]
    return SweepRequest(config, rates, epochs)
