"""What each value of the ``normalization`` setting is: one description per variant.

Every other place is generated from `VARIANTS`: the setting's choices (`bnviz.config`),
model labels (`bnviz.models`), which layers are built (`bnviz.norms`, by the variant's
`Variant.builder`), the page's words about each variant (`bnviz.explain`) and what the
page shows for it (its tabs ask the variant, never its name). Adding a variant is one
entry here and, if no builder fits, a builder in `bnviz.norms`.

Nothing here imports Keras: the page and the command line read these descriptions
without loading a trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One kind of layer that stands where the blog's BN model has batch norm."""

    name: str  # the setting's value, in links, the CLI and the hash
    label: str  # what its model is called before its placement: "BN after", "GroupNorm before"
    layer_prefix: str  # of its normalising layers' names: bn1, ln1, gn1, …
    # Normalises with the batch's own statistics in training (the layers whose mode the BN
    # mode comparison and the probes switch).
    uses_batch_statistics: bool
    # Keeps moving averages of those statistics for inference, so that training and inference
    # modes differ and the page has two modes to compare.
    keeps_moving_statistics: bool
    # Its layers hold all four of BN's values (γ, β, moving mean and variance), so the BN
    # values chart draws none of them at a stand-in value.
    has_every_bn_value: bool
    # Learns a gain and bias per feature of the whole map it normalises (every position), not
    # per channel: many more weights than BN, which the Parameters tab says.
    learns_per_position: bool
    changes: str  # what it does, in words (bold name first)
    question: str  # which question about BN it answers (or, for BN itself, its place)
    # The function of `bnviz.norms.BUILDERS` that makes its layers, and that function's options.
    builder: str
    options: tuple[tuple[str, Any], ...] = ()
    # Its layers normalise. False only for the noise-only control, whose layers are noise and
    # nothing else (named after its prefix; no normalising layer, no γ, β or statistics).
    normalizes: bool = True
    # Bump when what this variant computes changes: only its results go stale, so only its
    # hashes move, which carry it under `version_key`. None: never changed, nothing carried,
    # so every hash from before the variants had versions stays.
    version: int | None = None
    version_key: str = ""

    @property
    def prose(self) -> str:
        """What it changes and which question it answers, as the page says it."""
        return f"{self.changes} {self.question}"

    @property
    def is_batch_norm(self) -> bool:
        """Whether this is batch norm itself, the blog's model, which variants are read
        against (and for which the page's measured BN stories hold)."""
        return self.name == BATCH_NORM


BATCH_NORM = "batch"  # the default: Keras' BatchNormalization, the blog's

VARIANTS: dict[str, Variant] = {variant.name: variant for variant in (
    Variant(
        "batch", label="BN", layer_prefix="bn", uses_batch_statistics=True,
        keeps_moving_statistics=True, has_every_bn_value=True, learns_per_position=False,
        builder="batch_norm",
        changes=(
            "**Batch norm** (Ioffe & Szegedy 2015): each feature is standardised with the mean "
            "and standard deviation of the current batch, then scaled by a learned γ and "
            "shifted by a learned β."),
        question="It is the blog's model, the one every other variant takes a piece from."),
    Variant(
        "noisy-batch", label="noisy BN", layer_prefix="bn", uses_batch_statistics=True,
        keeps_moving_statistics=True, has_every_bn_value=True, learns_per_position=False,
        builder="noisy_batch_norm",
        # 3: Santurkar et al.'s Algorithm 1, a ← s·a + m (2: additive noise per activation,
        # our reading of their §2.1; 1: a scale and shift per channel).
        version=3, version_key="noise_version",
        changes=(
            "**Noisy BN** (Santurkar et al. 2018, App. A.2.1, Algorithm 1): after every BN "
            "layer, every activation of every image is multiplied by a random scale and "
            "shifted by a random amount; at every training step each channel draws the "
            "scale's mean (1 to 1.25) and the shift's mean (−0.5 to 0.5) afresh, and each "
            "activation varies around them by about 0.1 (no noise at inference), so each "
            "layer's input distribution moves at every step on purpose."),
        question=(
            "If BN worked by keeping those distributions steady (less *internal covariate "
            "shift*), this network should train much slower than plain BN. In Santurkar et "
            "al.'s VGG on CIFAR-10 it trained about as fast. In bnviz's run (BN before the "
            "ReLU, measured on 2026-12-01, 5 seeds) the noise did slow training down: 11.2 ± "
            "0.4 epochs to 90 % training accuracy (measured with the noise on) against BN's "
            "7.6 ± 0.5, though still fewer than the baseline's 17.2 ± 4.5; over the last 10 "
            "epochs it tested 0.827 against BN's 0.841.")),
    Variant(
        "noise-only", label="noise only", layer_prefix="noise", uses_batch_statistics=False,
        keeps_moving_statistics=False, has_every_bn_value=False, learns_per_position=False,
        builder="step_noise", normalizes=False,
        changes=(
            "**Noise only** (Santurkar et al.'s control): the same random scale and shift as "
            "noisy BN, where the BN layers would be, but no batch norm at all: nothing is "
            "normalised and no γ or β is learned."),
        question=(
            "If noisy BN trains well only because each BN layer re-normalises what the noise "
            "did to the layer before, this shows what the noise does alone. Santurkar et al. "
            "found that it \"prevents [the network] from training entirely\". In bnviz's run "
            "(in BN before the ReLU's places, measured on 2026-12-01, 5 seeds) it did not: the "
            "network reached 90 % training accuracy after 24.2 ± 7.6 epochs against the "
            "baseline's 17.2 ± 4.5, and over the last 10 epochs tested about as the baseline "
            "did (0.821 against 0.827). The noise cost it about the same share of speed (some "
            "40 to 50 % more epochs) as it cost BN: in this small network it is mild enough to "
            "learn through without BN re-normalising it.")),
    Variant(
        "mean-only", label="mean-only BN", layer_prefix="bn", uses_batch_statistics=True,
        keeps_moving_statistics=True, has_every_bn_value=False, learns_per_position=False,
        builder="partial_batch_norm", options=(("center", True), ("scale", False)),
        changes=(
            "**Mean-only BN**: subtracts each feature's batch mean but does not divide by its "
            "standard deviation (γ and β are still learned)."),
        question="Is centring alone enough for BN's speed-up?"),
    Variant(
        "variance-only", label="variance-only BN", layer_prefix="bn",
        uses_batch_statistics=True, keeps_moving_statistics=True, has_every_bn_value=False,
        learns_per_position=False,
        builder="partial_batch_norm", options=(("center", False), ("scale", True)),
        changes=(
            "**Variance-only BN**: divides each feature by its batch standard deviation "
            "without subtracting the mean (γ and β are still learned)."),
        question="Is controlling each feature's scale enough for BN's speed-up?"),
    Variant(
        "frozen-affine", label="frozen-affine BN", layer_prefix="bn",
        uses_batch_statistics=True, keeps_moving_statistics=True, has_every_bn_value=False,
        learns_per_position=False,
        builder="batch_norm", options=(("center", False), ("scale", False)),
        changes=(
            "**BN with γ = 1 and β = 0 fixed**: standardises exactly as BN does but cannot "
            "learn to rescale or shift afterwards."),
        question=(
            "Do the learned scale and shift matter, or does the standardising do the work?")),
    Variant(
        "layer", label="LayerNorm", layer_prefix="ln", uses_batch_statistics=False,
        keeps_moving_statistics=False, has_every_bn_value=False, learns_per_position=True,
        builder="layer_norm",
        changes=(
            "**Layer norm** (Ba, Kiros & Hinton 2016): standardises each image with the mean "
            "and standard deviation over all of its own features in the layer, with a learned "
            "gain and bias per feature, so no batch statistics and no moving averages are "
            "involved."),
        question=(
            "Does normalising without the batch help as much, and does it stay the same when "
            "batches are small?")),
    Variant(
        "group", label="GroupNorm", layer_prefix="gn", uses_batch_statistics=False,
        keeps_moving_statistics=False, has_every_bn_value=False, learns_per_position=False,
        builder="group_norm",
        changes=(
            "**Group norm** (Wu & He 2018): standardises each image over groups of channels "
            "(the 32 channels in 8 groups of 4; the 512 flattened features in 8 groups of 64), "
            "with a learned γ and β per channel and no batch statistics."),
        question=(
            "It was made for small batches, where BN's batch statistics become noisy: compare "
            "it with BN at batch size 8.")),
)}


def variant(name: str) -> Variant:
    """The variant of a ``normalization`` value; a ValueError names the known ones."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"normalization must be one of {tuple(VARIANTS)}, "
                         f"not {name!r}") from None
