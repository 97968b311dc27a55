"""Reading hostile links: every bad parameter is named, defaults are used, text stays text."""

import math

import pytest

from bnviz.config import ExperimentConfig, field_names
from bnviz.link import (
    MAX_WARNINGS,
    markdown_code,
    problem_markdown,
    problems_markdown,
    read_link,
)

DEFAULT = ExperimentConfig()


def _read(**query):
    return read_link({key: value if isinstance(value, list) else [value]
                      for key, value in query.items()})


@pytest.mark.parametrize("name, value", [
    ("epochs", "-5"), ("epochs", "0"), ("epochs", "1000000"), ("epochs", "9" * 5000),
    ("epochs", "nan"), ("epochs", "inf"), ("epochs", "2.5"), ("epochs", "ten"), ("epochs", ""),
    ("train_size", "99"), ("train_size", "50001"), ("train_size", "1e9"),
    ("learning_rate", "nan"), ("learning_rate", "inf"), ("learning_rate", "-inf"),
    ("learning_rate", "0"), ("learning_rate", "1e308"), ("batch_size", "-1"),
    ("placement", "<script>alert(1)</script>"), ("optimizer", "x" * 10_000),
    ("scale_pixels", "maybe"), ("split", "日本語"), ("seed", "-1"), ("seed", str(2**31)),
])
def test_a_bad_value_is_named_and_its_default_used(name, value):
    reading = _read(**{name: value, "run": "1"})
    assert [p.name for p in reading.problems] == [name]
    assert reading.config == DEFAULT  # only the bad parameter was given: all defaults
    assert reading.run


def test_good_values_are_kept_next_to_bad_ones():
    reading = _read(epochs="3", train_size="nan", placement="before")
    assert (reading.config.epochs, reading.config.placement) == (3, "before")
    assert reading.config.train_size == DEFAULT.train_size
    assert [p.name for p in reading.problems] == ["train_size"]


def test_unknown_keys_are_named_even_when_long_or_odd():
    long_key = "k" * 10_000
    reading = _read(**{long_key: "1", "<b>x</b>": "2", "": "3", "utm_source": "lms"})
    assert len(reading.problems) == 4
    assert reading.problems[0].name == long_key
    assert reading.config == DEFAULT


def test_repeated_key_uses_the_last_value_and_says_so():
    reading = _read(epochs=["5", "7"])
    assert reading.config.epochs == 7
    assert [p.name for p in reading.problems] == ["epochs"]
    assert "2 times" in reading.problems[0].message
    assert not reading.problems[0].uses_default
    bad_last = _read(epochs=["5", "-1"])
    assert bad_last.config.epochs == DEFAULT.epochs
    assert [p.name for p in bad_last.problems] == ["epochs", "epochs"]


@pytest.mark.parametrize("run, expected, warned", [
    ("1", True, False), ("true", True, False), ("YES", True, False), ("0", False, False),
    ("", False, False), ("2", False, True), ("<i>x</i>", False, True),
])
def test_run_accepts_yes_and_no_words_only(run, expected, warned):
    reading = _read(run=run)
    assert reading.run is expected
    assert bool(reading.problems) is warned


@pytest.mark.parametrize("present, expected, warned", [
    ("1", True, False), ("on", True, False), ("0", False, False), ("big", False, True),
])
def test_present_is_a_way_of_showing_not_a_setting(present, expected, warned):
    reading = _read(present=present, epochs="7")
    assert reading.present is expected
    assert [p.name for p in reading.problems] == (["present"] if warned else [])
    # Not part of the experiment: the same configuration, the same hash, as without it.
    assert reading.config == _read(epochs="7").config
    assert reading.config.config_hash() == DEFAULT.replace(epochs=7).config_hash()


def test_every_accepted_link_is_a_valid_config():
    # Whatever the link, the config that comes back passed ExperimentConfig's validation
    # (ranges and caps): building it again from its own values must not raise.
    for value in ("-1", "0", "nan", "inf", "1e400", "300", "50000", "1e-5"):
        reading = read_link({name: [value] for name in field_names()})
        assert ExperimentConfig.from_mapping(reading.config.to_mapping()) == reading.config
        assert math.isfinite(reading.config.learning_rate)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "[click](http://evil.example)", "http://evil.example/x",
    "www.evil.example", "**bold** _it_", ":red[alarm] :smile:", "$\\href{x}{y}$",
    "`code` ![img](x.png)", "a\nb\n\n# heading", "\u202eevil\u200b", "<img src=x onerror=1>",
    "``", " ",
])
def test_link_text_becomes_one_code_span_or_a_placeholder(text):
    shown = markdown_code(text, limit=100)
    if not text.strip():
        assert shown == "(empty)"
        return
    # Exactly one code span, nothing that could close it early or break the line.
    assert shown.startswith("`") and shown.endswith("`") and shown.count("`") == 2
    assert not any(c in shown for c in "\n\r\u202e\u200b")


def test_a_warning_quotes_the_value_as_code_and_escapes_the_rest():
    problem = _read(optimizer="[click](http://evil.example)").problems[0]
    warning = problem_markdown(problem)
    assert "`[click](http://evil.example)`" in warning
    outside = warning.replace("`[click](http://evil.example)`", "")
    assert "http" not in outside and "[" not in outside


def test_long_text_is_shortened_in_warnings():
    warning = problem_markdown(_read(**{"x" * 10_000: "1"}).problems[0])
    assert len(warning) < 400 and "…" in warning


def test_many_problems_are_counted_not_listed():
    reading = read_link({f"key{i}": ["1"] for i in range(50)})
    shown = problems_markdown(reading.problems)
    assert len(shown) == MAX_WARNINGS + 1
    assert shown[-1].startswith(f"{50 - MAX_WARNINGS} more")
