"""The experiment configuration: one typed place for every knob.

`ExperimentConfig` is the single source of truth. Its field metadata holds the
range, choices, label and help text that validation, the CLI and the app's
sidebar all read; its defaults are the blog post's experiment. A config
serialises to a flat ``{field: str}`` mapping (the app's URL query) and back,
and has a stable hash used to cache and share results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bnviz.variants import BATCH_NORM, VARIANTS, Variant

# Bump when a change to the trainer or data makes stored results stale. 4: the `blog` split
# takes the blog's very images (tensorflow-datasets' order), so results trained on the
# official file order's first images are no longer served as the blog's. 5: the loss
# landscape is probed along the step the optimizer took as well as along the gradient, with
# the distance probed (`bnviz.landscape.DIRECTIONS`): results without those columns are stale.
RESULTS_VERSION = 5

# The networks a comparison can train (`bnviz.models`), each with what one training image costs
# it, in images of the blog's CNN. Measured on a 2-core AMD EPYC (Zen 4, AVX-512): an epoch of
# the CNN takes about 0.43 ms an image per model, one of the sigmoid MLP at batch 60 about
# 0.014 ms (a 30th); rounded up to a 20th for the MLP's many more epochs' per-epoch overhead
# (evaluation, probes). The cost makes the work cap and the wait estimates fair between them.
CNN, MLP_SIGMOID = "cnn", "mlp-sigmoid"
IMAGE_COST = {CNN: 1.0, MLP_SIGMOID: 0.05}
ARCHITECTURES = tuple(IMAGE_COST)
# Cap on one request's work, in images of the blog's CNN seen per model (epochs × train_size ×
# seeds × `IMAGE_COST`): the blog's run is 100,000; the cap allows twenty of those, so that one
# request cannot hold a trainer for long.
MAX_WORK = 2_000_000
# The fields multiplied into the work, in the order a forgiving reader (bnviz.link) gives
# them up.
WORK_FIELDS = ("seeds", "train_size", "epochs")

BASELINE_PLACEMENT = "none"  # the baseline's: no normalising layer
PLACEMENTS = ("after", "before")  # the BN model's
OPTIMIZERS = ("adam", "sgd")
SPLITS = ("blog", "official")
# What the BN model's normalising layers do: one `bnviz.variants.Variant` each.
NORMALIZATIONS = tuple(VARIANTS)
# Fields added after results were first stored: a config leaves them out of its hash while
# they hold their default, so every result stored (and every gallery entry, and every link)
# before they existed keeps its hash.
LATER_FIELDS = ("normalization", "architecture")


class ConfigError(ValueError):
    """A configuration value a person must correct; `field` names the culprit."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _spec(
    default: Any,
    *,
    label: str,
    help: str,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    log_scale: bool = False,
) -> Any:
    return field(
        default=default,
        metadata={
            "label": label,
            "help": help,
            "min": minimum,
            "max": maximum,
            "choices": choices,
            "log_scale": log_scale,
        },
    )


@dataclass(frozen=True)
class ExperimentConfig:
    """One comparison: a baseline CNN and a batch-norm CNN trained the same way.

    Defaults reproduce the blog post: 100 epochs of Adam at batch size 64 on
    the first 1000 Fashion-MNIST training images in tensorflow-datasets' order (the
    blog's very images), raw 0..255 pixels, BN after each activation.
    """

    architecture: str = _spec(
        CNN, label="Network", choices=ARCHITECTURES,
        help="'cnn': the blog's three-convolution network. 'mlp-sigmoid': Ioffe & Szegedy's "
        "own test (their Fig. 1), three fully connected layers of 100 sigmoid units on "
        "binarised images (each pixel 0 or 1, so 'Scale pixels' does not apply).",
    )
    epochs: int = _spec(
        100, label="Epochs", minimum=1, maximum=1000,
        help="How many passes over the training images each model makes.",
    )
    batch_size: int = _spec(
        64, label="Batch size", minimum=4, maximum=1024,
        help="Images per gradient step; BN computes its statistics over one batch.",
    )
    placement: str = _spec(
        "after", label="BN placement", choices=PLACEMENTS,
        help="Where the BN model normalises: after each ReLU (the blog) or before it "
        "(Ioffe & Szegedy).",
    )
    normalization: str = _spec(
        BATCH_NORM, label="Normalisation", choices=NORMALIZATIONS,
        help="What the BN model's normalising layers do: 'batch' is batch norm itself; the "
        "others take it apart (noise after it, only the mean, only the variance, fixed γ and "
        "β), normalise without the batch (layer, group), or put the noise alone where BN "
        "would be (noise-only, the control). See 'What each variant asks'.",
    )
    learning_rate: float = _spec(
        0.001, label="Learning rate", minimum=1e-5, maximum=1.0, log_scale=True,
        help="Step size of the optimizer; 0.001 is Adam's default.",
    )
    optimizer: str = _spec(
        "adam", label="Optimizer", choices=OPTIMIZERS,
        help="Adam adapts the step per weight; SGD uses one plain step size.",
    )
    train_size: int = _spec(
        1000, label="Training images", minimum=100, maximum=50_000,
        help="How many Fashion-MNIST images the models learn from.",
    )
    split: str = _spec(
        "blog", label="Test set", choices=SPLITS,
        help="'blog': 1000 more images from the training split, as the post does; "
        "'official': images from Fashion-MNIST's own test split.",
    )
    scale_pixels: bool = _spec(
        False, label="Scale pixels to [0, 1]",
        help="The blog feeds raw 0..255 values; scaling is the usual practice.",
    )
    seed: int = _spec(
        1, label="Seed", minimum=0, maximum=999_999,
        help="Fixes initial weights, dropout and batch order: same seed, same curves, to "
             "the last digit on one kind of machine (another CPU or core count rounds "
             "differently: the last digits of a loss can differ).",
    )
    seeds: int = _spec(
        1, label="Seeds", minimum=1, maximum=10,
        help="Train each model this many times (seed, seed+1, …) to see the run-to-run spread.",
    )
    landscape_every: int = _spec(
        25, label="Loss-landscape probe every (steps)", minimum=0, maximum=10_000,
        help="Every this many training steps, measure how the loss and its gradient change "
        "along the step just taken and along the gradient (Santurkar et al. 2018; the 'Why BN "
        "helps' tab). 0: never. A probe costs nine forward and backward passes over one batch "
        "and changes nothing in the training.",
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name))
        if self.work > MAX_WORK:
            cost = IMAGE_COST[self.architecture]
            weight = "" if cost == 1 else f" × {cost:g} (an image's cost, {self.architecture})"
            raise ConfigError(
                "epochs × train_size × seeds",
                f"{self.epochs} × {self.train_size} × {self.seeds}{weight} = {self.work:,.0f} "
                f"images per model, more than the cap of {MAX_WORK:,}",
            )

    @property
    def work(self) -> float:
        """Training images each model sees over the whole request, in images of the blog's
        CNN (`IMAGE_COST`)."""
        return self.epochs * self.train_size * self.seeds * IMAGE_COST[self.architecture]

    @property
    def steps_per_epoch(self) -> int:
        """Training steps (batches, the last one possibly smaller) in one epoch."""
        return -(-self.train_size // self.batch_size)

    @property
    def binarize(self) -> bool:
        """Whether the network reads binarised pixels (0 or 1): Ioffe & Szegedy's MLP."""
        return self.architecture == MLP_SIGMOID

    @property
    def raw_pixels(self) -> bool:
        """Whether the network reads the raw 0..255 pixels (the blog's CNN, unscaled)."""
        return not self.scale_pixels and not self.binarize

    @property
    def variant(self) -> Variant:
        """What the BN model's normalising layers are (`bnviz.variants`)."""
        return VARIANTS[self.normalization]  # a known name: validated on construction

    @property
    def seed_list(self) -> list[int]:
        """The seeds to train: ``seed``, ``seed + 1``, … (``seeds`` of them)."""
        return [self.seed + offset for offset in range(self.seeds)]

    # -- serialisation -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Field values as plain Python objects (JSON-ready)."""
        return dataclasses.asdict(self)

    def to_mapping(self) -> dict[str, str]:
        """Flat ``{field: str}`` mapping, e.g. for URL query parameters."""
        return {name: _format(value) for name, value in self.to_dict().items()}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ExperimentConfig:
        """Strict parse: unknown keys or bad values raise `ConfigError`.

        Missing keys take their defaults.
        """
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting (known: {', '.join(field_names())})")
        parsed = {name: _parse(_field(name), raw) for name, raw in values.items()}
        return cls(**parsed)

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickling goes through `from_mapping`, so a config that crosses a process line
        # (to a training process) is validated again on arrival, not trusted.
        return (ExperimentConfig.from_mapping, (self.to_mapping(),))

    def describe(self) -> str:
        """The settings that differ from the blog post's, as ``name=value`` pairs."""
        default = ExperimentConfig().to_mapping()
        changed = [f"{name}={value}" for name, value in self.to_mapping().items()
                   if default[name] != value]
        return ", ".join(changed) or "the blog post's settings"

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    # -- identity ------------------------------------------------------------

    def config_hash(self) -> str:
        """Stable short hash of the values (and results version) for caching."""
        values = self.to_mapping()
        default = ExperimentConfig().to_mapping()
        for name in LATER_FIELDS:
            if values[name] == default[name]:
                del values[name]
        if self.variant.version is not None:  # its results of earlier versions are stale
            values[self.variant.version_key] = str(self.variant.version)
        canonical = json.dumps({"version": RESULTS_VERSION, **values}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def is_default(self) -> bool:
        """True when every field has the blog post's value."""
        return self == ExperimentConfig()


def field_names() -> tuple[str, ...]:
    """Names of the configuration fields, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(ExperimentConfig))


def field_meta(name: str) -> Mapping[str, Any]:
    """Label, help text, range and choices of one field (for UIs and CLIs)."""
    spec = _field(name)
    return {**spec.metadata, "default": spec.default, "type": _type_of(spec)}


def _field(name: str) -> dataclasses.Field:
    for spec in dataclasses.fields(ExperimentConfig):
        if spec.name == name:
            return spec
    raise ConfigError(name, "unknown setting")


def _type_of(spec: dataclasses.Field) -> type:
    return type(spec.default)


def _check(spec: dataclasses.Field, value: Any) -> None:
    kind = _type_of(spec)
    meta = spec.metadata
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(spec.name, f"must be true or false, not {value!r}")
        return
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(spec.name, f"must be a whole number, not {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(spec.name, f"must be a number, not {value!r}")
        if not math.isfinite(value):
            raise ConfigError(spec.name, f"must be a finite number, not {value!r}")
    if kind is str:
        if value not in meta["choices"]:
            raise ConfigError(
                spec.name, f"must be one of {', '.join(meta['choices'])}, not {value!r}"
            )
        return
    low, high = meta["min"], meta["max"]
    if not low <= value <= high:
        raise ConfigError(spec.name, f"must be between {_format(low)} and {_format(high)}, "
                          f"not {_format(value)}")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse(spec: dataclasses.Field, raw: Any) -> Any:
    """Turn a string (or an already-typed value) into the field's type."""
    kind = _type_of(spec)
    if not isinstance(raw, str):
        value = raw
    else:
        text = raw.strip()
        shown = text if len(text) <= 30 else text[:30] + "…"
        try:
            if kind is bool:
                if text.lower() in _TRUE:
                    value = True
                elif text.lower() in _FALSE:
                    value = False
                else:
                    raise ValueError
            elif kind is int:
                value = int(text)
            elif kind is float:
                value = float(text)
            else:
                value = text.lower()
        except ValueError:
            raise ConfigError(spec.name, f"cannot read {shown!r} as {_kind_name(kind)}") from None
    _check(spec, value)
    return value


def _kind_name(kind: type) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number"}.get(kind, "text")


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return str(value)
