"""Plain-words text shown next to each part of the page (kept apart from the layout)."""

from bnviz.variants import VARIANTS

TITLE = "Batch norm, side by side"
SUBTITLE = ("Two small CNNs learn Fashion-MNIST from the same images and the same start; "
            "one has batch-normalisation layers. What does BN change?")

INTRO = (
    "Two small convolutional networks learn to recognise clothes in "
    "[Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist) images. They are identical "
    "except that one has **batch normalisation** (BN) layers. Both see the same images in the "
    "same order from the same starting weights, so BN is the one difference by design. One run "
    "still carries chance: rounding alone (the order in which the computer adds up numbers) "
    "moved a final test accuracy by up to 3.6 points when we trained the same model two ways, "
    "so read small gaps over several seeds before crediting or blaming BN."
)

WHAT_IS_BN = """
**What BN does.** During training, a batch-norm layer takes each feature (each channel of a
convolution) over the current mini-batch, subtracts the batch mean and divides by the batch
standard deviation, then rescales with two learned numbers per feature, *gamma* (scale) and
*beta* (shift). It also keeps running averages of the mean and variance; at test time it uses
those instead of the batch, so a prediction does not depend on which other images share its batch.

**Why it helps.** Ioffe & Szegedy (2015) proposed BN against *internal covariate shift*: the
inputs of each layer changing as the earlier layers learn. That was their hypothesis. Santurkar,
Tsipras, Ilyas & Madry (2018, "How does batch normalization help optimization?") tested it:
after every BN layer they scaled and shifted each activation at random, from distributions that
change at every step, so that each layer's inputs move on purpose; their network still trained
about as fast as with plain BN (the same noise without BN stopped it from training at all), so,
they concluded, reducing that shift is not what makes BN work. bnviz's run of their noise
(measured on 2026-12-01, 5 seeds, BN before the ReLU: the **Noisy BN (Santurkar)** and **Noise
without BN (control)** presets) does not repeat all of it. Here the noise did slow training
down: noisy BN took 11.2 ± 0.4 epochs to 90 % training accuracy against BN's 7.6 ± 0.5 (still
fewer than the baseline's 17.2 ± 4.5); and the control without BN did train, in 24.2 ± 7.6
epochs, about the same share of delay; all of them tested alike over their last 10 epochs
(0.82 to 0.84).
So in these small networks the noise slows learning with or without BN: these runs neither
support nor rule out their argument. What Santurkar et al. measured instead is a smoother loss: its
value and its gradient change less along a step, so larger steps are safe. The **Why BN
helps** tab takes their measurements on these two models while they train; the other tabs
show the effect: how fast each model converges here.

**What the blog post found.** Trained on 1000 images for 100 epochs, the BN model reaches high
training accuracy in far fewer epochs, and after both have converged it is marginally better on
the test set. The blog also notes the BN model has a few more parameters, which could play a part.
"""

PLACEMENT = """
**Before or after the activation?** Ioffe & Szegedy normalise *Wx + b*, the convolution's output,
just before the nonlinearity: Conv → BN → ReLU (choose **before**; the convolution's bias is
dropped, because BN's beta does its job). Many practitioners, and the blog post, put BN *after*
the ReLU (and here after pooling), which standardises exactly what the next layer receives, like
standardising a dataset. There is no consensus; try both and compare the curves.
"""

CURVES = (
    "Solid lines are training accuracy and loss (measured during the epoch, with dropout on), "
    "dashed lines are the test set (after the epoch, BN in inference mode). Look at how many "
    "epochs each model needs to climb, and at the gap between train and test: a large gap means "
    "memorising the 1000 training images rather than learning clothes. In the first epochs "
    "the BN model's test curve can lag its training curve for another reason: at test time BN "
    "uses moving averages, which at the blog's settings (16 steps an epoch, momentum 0.99) "
    "still hold 85 % of their starting values after one epoch. Click a legend entry to "
    "highlight one series; hover a point to read its value."
)

CONVERGENCE = (
    "The same story in numbers. *Epochs to 90 % / 99 %* count how soon training accuracy first "
    "reaches that level (— means never). The test accuracy the headline compares is the mean "
    "of the last 10 epochs (of all of them in a shorter run): no epoch is picked by looking "
    "at the test set. *Best* is the highest test accuracy in any epoch, picked on the test "
    "set itself, so it flatters both models; *final* is the last. With one run per model, "
    "differences of a point or two in test accuracy can come from the seed alone, and the "
    "test set's own sampling error (under the table) comes on top: add seeds before drawing "
    "conclusions."
)

PARAMETERS = (
    "Where the extra parameters come from: every BN layer holds four numbers per feature. "
    "*gamma* and *beta* are learned, so they are trainable; the moving mean and moving variance "
    "are updated by averaging, not by gradients, so they are non-trainable. In the blog's model "
    "BN covers 32 + 32 + 512 = 576 features: 1,152 trainable and 1,152 non-trainable parameters, "
    "2,304 in all. Most of them sit on the 512 flattened features before the dense layer."
)

PARAMETERS_MLP = (
    "Where the extra parameters come from: every BN layer holds four numbers per unit, *gamma* "
    "and *beta* learned (trainable), the moving mean and variance averaged (non-trainable). In "
    "Ioffe & Szegedy's MLP BN covers its three hidden layers of 100 units: {learned:,} trainable "
    "and {moving:,} non-trainable parameters.{bias}"
)
PARAMETERS_MLP_BIAS = (
    " Before the sigmoid, β stands in for each hidden layer's bias, so the BN model drops "
    "those {biases:,}."
)

PREDICTIONS = (
    "Test images with their true class and what each model says, with its confidence (the "
    "softmax probability of the chosen class). *Models disagree* shows where BN changed the "
    "answer; *both wrong* shows the hard cases, often shirts against T-shirts and pullovers. "
    "The confusion matrices count, for each true class (row), which class was predicted."
)

SEEDS = (
    "Each seed is a different random start: other initial weights, other dropout masks, "
    "another batch order; the spread across seeds is the noise any single run carries. But "
    "within a seed both models start from the same shared-layer weights and see the same "
    "batches, so the seeds are pairs: the charts above show each seed's difference (dots) "
    "and their mean with its 98 % t-interval (the bar). A difference smaller than the "
    "spread can still be evidence when every seed shows it; it is called clear when the "
    "interval leaves zero out. Each of the headline's two statistics gets a 98 % interval, "
    "so the headline calls a difference clear wrongly at most 5 % of the time when there "
    "is none (checked by simulation in bnviz's tests); the interval assumes the per-seed "
    "differences are roughly normal, and few seeds settle only large, consistent "
    "differences (an assumption-free sign-flip test could not reach 5 % below 6 seeds). "
    "Only seeds where both models reached a threshold count for it. The seeds say nothing "
    "of the test set's own sampling error (under the table): they all use the same test "
    "images. Figures in the table are mean ± standard deviation over seeds."
)

INSIDE = (
    "What three channels of each network's last convolution pass to their ReLU, on a fixed "
    "batch of 256 test images after every epoch: the shaded band runs from the 15th to the "
    "85th percentile over the images and positions, the line is the median. As in Ioffe & "
    "Szegedy (2015, Fig. 1), the values are taken as the network sees them while it learns: "
    "in *training mode*, BN normalising with the batch's own statistics (the probe puts the "
    "moving averages back, so training is not touched). {compared} Each "
    "panel has its own scale, so compare how each one moves over time, not heights across "
    "panels. *Inference mode* shows the same values with BN on its moving averages: in the "
    "first epochs those still remember their starting values (mean 0, variance 1), one reason "
    "why the BN model's early test curves can lag its training curves. With several seeds, the "
    "first seed's run is shown."
)

# What the Inside BN chart compares, per placement (`bnviz.inside.ReluInputProbe`).
INSIDE_COMPARED = {
    "after": (
        "In the **after** model (the blog's) the probed value, the third convolution's "
        "*Wx + b* entering its ReLU, is no BN layer's output: BN standardises what enters that "
        "convolution, whose weights then scale and shift it, so nothing holds it at mean 0 "
        "and variance 1. Ioffe & Szegedy followed a BN layer's output (BN sat just before "
        "each sigmoid) and saw it drift without BN and hold steady with it; the **before** "
        "placement probes that. Here, look whether the BN model's values settle sooner than "
        "the baseline's."),
    "before": (
        "In the **before** model, as in Ioffe & Szegedy's Fig. 1 (BN just before each "
        "sigmoid), the probed value is the last normalising layer's output entering its "
        "ReLU (standardised, then scaled by γ and shifted by β), against the baseline's "
        "*Wx + b* at the same place. They saw these distributions drift without BN and hold "
        "steady with it; look whether they do here."),
}

# The same tab for Ioffe & Szegedy's sigmoid MLP (``architecture="mlp-sigmoid"``).
INSIDE_MLP = (
    "Ioffe & Szegedy's own test (2015, §4.1, Fig. 1 b, c): what three units of the last hidden "
    "layer pass to their sigmoid, on a fixed batch of 256 test images at the end of every "
    "epoch ({steps_per_epoch} training steps each); the shaded band runs from the 15th to the "
    "85th percentile over the images, the line is the median, and the x-axis counts training "
    "steps, as their figure does. {compared} Their network read MNIST digits; this one reads "
    "Fashion-MNIST, binarised (each pixel 0 or 1), since MNIST is not available offline "
    "here. *Training mode* is what the network sees while it learns; *inference mode* uses "
    "BN's moving averages. With several seeds, the first seed's run is shown; the table below "
    "gives its percentiles at chosen steps, so the drift can be read as numbers."
)
INSIDE_MLP_COMPARED = {
    "before": (
        "In the **BN before** model, as in the paper, the probed value is the last BN layer's "
        "output (standardised, then scaled by γ and shifted by β), against the baseline's "
        "*Wx + b* at the same place. They saw the baseline's distribution move over training, "
        "its percentiles drifting, and the BN model's hold steadier: compare the two columns."),
    "after": (
        "In the **after** model BN follows each sigmoid, so the probed value is the last "
        "hidden layer's *Wx + b* in both models, no BN layer's output: the paper's comparison "
        "is the **before** placement."),
}

BN_LAYERS = (
    "Each tick is one feature (a channel, or one of the 512 flattened features) of a BN layer "
    "at the end of training. *gamma* and *beta* are learned: gamma far from 1 or beta far from 0 "
    "means the network chose to undo part of the normalisation. *moving_mean* and "
    "*moving_variance* are the running averages of the batch statistics that BN uses at test "
    "time (first seed's BN model)."
)

MODES = (
    "A BN layer has two modes. In training it normalises with the mean and variance of the "
    "current batch; at inference it uses the moving averages gathered during training. The "
    "bars evaluate the trained BN model on the test set *with batch statistics* for several "
    "evaluation batch sizes (dropout off, so BN is the only difference); the line is the usual "
    "inference-mode accuracy, the one Keras reports. "
)
# Measured for batch norm itself.
MODES_ONE_IMAGE = (
    "With one image per batch, a BN layer after "
    "a convolution still normalises each channel over the image's positions, so the image keeps "
    "much of its pattern; but BN on the 512 flattened features (the **after** model's last BN) "
    "sees one value per feature, subtracts it and leaves only beta: every image looks the same "
    "to the classifier. The **before** model has no BN at the dense end. "
)
MODES_AFTER = (
    "This run's numbers are under the chart. A deployed model that predicts one image "
    "at a time therefore uses the moving averages. At the blog's settings (momentum 0.99, 16 "
    "steps an epoch) those averages still hold 85 % of their starting values (mean 0, "
    "variance 1) after the first epoch, so after short trainings, and in the first epochs' "
    "test curves, the moving averages lag: batch statistics can then score better."
)

SWEEP = (
    "Both models trained briefly at each learning rate of a log grid; the chart shows the best "
    "test accuracy reached. A cross marks a run that *diverged*: checked at the end of every "
    "epoch, its loss became infinite or grew to more than ten times its first epoch's loss "
    "(the run was stopped at once). A square marks a run *stuck at chance*: training accuracy "
    "still at guessing level and a loss that has not fallen; a triangle, a run *still "
    "learning*: at guessing level after these few epochs, but with its loss falling (a small "
    "learning rate needs more epochs). "
    "The claim to test: BN keeps training at rates that break the baseline. Ioffe & "
    "Szegedy (2015, §3.3) argue that BN makes a layer's output independent of its weights' "
    "scale, so larger steps do not blow the activations or the gradients up; Bjorck et al. "
    "(2018, \"Understanding batch normalization\") find that allowing larger learning rates "
    "is BN's main effect, and what drives its faster convergence. "
    "Sweeps are shared like single runs: whoever asks first trains, everyone sees it."
)


RAW_PIXELS = (
    "These models see raw 0–255 pixels, as the blog's do: over the first epoch the baseline's "
    "training loss averaged {baseline_loss:.1f}, the BN model's {bn_loss:.1f}. BN's head start "
    "in epochs does not come from standardising an input nobody scaled: in bnviz's own runs "
    "(3 seeds, docs/experiment.md, \"What part of BN matters, measured\") scaling the "
    "pixels made the baseline slower, 33.7 epochs to 90 % train accuracy instead of 16.7, "
    "while BN took 6.7 instead of 6.0. The **Scaled pixels** preset shows it."
)


LANDSCAPE = (
    "**Why BN helps, as Santurkar et al. (2018) measured it.** Every few training steps we "
    "stand at the weights *w* the step started from, with the gradient *g* of the loss on the "
    "step's own batch (dropout off, so the look-ahead carries no dropout noise), and look "
    "ahead along the step the optimizer actually took, *Δ*, at half to four times its "
    "length: the loss *L(w + kΔ)* (left: its lowest and highest value over those *k*, as a "
    "band); how much the gradient there differs from *g* (middle: *gradient "
    "predictiveness*, small means the gradient at *w* tells well where the loss goes); and "
    "the largest ratio of that change to the distance looked ahead (right: the *effective "
    "β-smoothness*, small means a smooth loss). Santurkar et al. trained with plain SGD, "
    "whose step is *−lr·g*, and looked along *−ηg*; with SGD the two are the same. Adam, the "
    "blog's optimizer, scales every weight's step by its own running gradient size, so "
    "along *−ηg* a model with large gradients would be probed much farther than one with "
    "small, and the measures would mostly compare the gradients' sizes: along *Δ* both "
    "models are probed as far as they really move (the hover shows each step's length; the "
    "CSV has the gradient direction too). Santurkar et al. found all three smaller with BN, "
    "in networks far larger than these: a smoother loss lets training take bigger, surer "
    "steps, which is their account of why BN speeds training up, rather than a reduced "
    "internal covariate shift. The *Santurkar's setup* preset trains with SGD, where this "
    "tab is their measure. The probe puts every weight and moving average back, so the "
    "training is the same with or without it. Scales are logarithmic."
)


# What each variant changes, and which question it answers (`bnviz.variants`), by its name:
# shown above a variant's result and under "What each variant asks".
NORMALIZATIONS = {name: variant.prose for name, variant in VARIANTS.items()}

VARIANTS_INTRO = (
    "**What each variant asks.** The *Normalisation* setting puts something else where the "
    "BN model's batch norm stands (the baseline never changes). Each variant takes one piece "
    "of BN away or swaps the whole for a normaliser that ignores the batch, so the curves "
    "show which piece carries the speed-up (the noise-only control keeps noisy BN's noise "
    "and none of BN). One seed cannot tell small differences from "
    "chance: add seeds before concluding."
)

NO_MOVING_STATISTICS = (
    "{name} keeps no moving statistics: layer and group norm normalise each image with that "
    "image's own values, the same way in training and at inference, and the noise-only "
    "control normalises nothing (its noise is off at inference), so there are no two modes "
    "to compare here and a prediction never depends on the rest of its batch. The BN models "
    "(batch, noisy, mean-only, variance-only, fixed γ and β) are where this tab has "
    "something to show."
)

MODES_NOT_MEASURED = (
    "This result holds no comparison of BN's two modes: it was stored by an older bnviz, "
    "which measured them only at a training's end, and this training was stopped before. "
    "Press **Train** to train these settings again."
)

PARAMETERS_VARIANT = (
    "Where the parameters differ: each normalising layer of the {name} model holds the "
    "numbers listed in its rows. Learned ones (γ and β, or layer norm's gain and bias) are "
    "trainable; moving averages, updated by averaging rather than by gradients, are "
    "non-trainable; the noise of the noisy variants adds none. The noise-only control has no "
    "normalising layer at all; before the ReLU its convolutions also lack their biases "
    "(which BN's β replaces in the BN models), so it has 96 weights fewer than the baseline."
)

LAYER_NORM_PARAMETERS = (
    "Layer norm learns a gain and a bias for every feature of the whole map it normalises, "
    "{features:,} features in this model, so it has {extra:,} more weights than the baseline: "
    "keep that in mind when comparing it."
)

BN_LAYERS_VARIANT = (
    "For this variant, what a layer does not have is drawn at the value it stands for: γ at 1 "
    "and β at 0 where they are fixed, moving mean 0 and variance 1 where none is kept. The "
    "noise-only control has no such layer, so nothing is drawn."
)
