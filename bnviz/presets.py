"""Classroom presets: named configurations, each one change away from the blog's."""

from __future__ import annotations

from bnviz.config import ExperimentConfig

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
}
