"""OPAL's records as text: serialization, prompts, and parsing of malformed LLM output."""

import pandas as pd
import pytest

from methods.opal.parse import GROUP, LABEL, Schema, format_number
from methods.opal.prompt import conditioning_prefix, in_context_messages, merge_consecutive


@pytest.fixture
def schema():
    X = pd.DataFrame({
        "age": pd.Series([20, 30, 40, 60], dtype="int64"),
        "bmi": [18.5, 22.0, 30.25, 41.0],
        "smoker": pd.Categorical(["yes", "no", "no", "yes"]),
    })
    return Schema(X, "class", [0, 1], range_margin=0.1)


GOOD = "age is 35, bmi is 25.5, smoker is no, class is 1."


def parse(schema, text, truncated=False):
    rows, counts = schema.parse(text, truncated)
    return rows, dict(counts)


def test_format_and_serialize(schema):
    assert format_number(305000.0) == "305000" and format_number(0.25) == "0.25"
    assert format_number(1.23456789e-7) == "0.000000123457" and format_number(-2.5e16) == "-25000000000000000"
    row = {"age": 35, "bmi": 25.5, "smoker": "no", LABEL: 1}
    assert schema.serialize(row) == GOOD
    rows, counts = parse(schema, schema.serialize(row))
    assert rows == [row] and counts == {}


def test_presentation_is_forgiven(schema):
    text = (
        "Here are the new records:\n"  # extra text
        f"1. {GOOD}\n"  # numbered
        "- **Age** is 41, BMI is 30, Smoker is YES, Class is 1.0\n"  # bullets, bold, case, 1.0 for label 1
        f"{GOOD} {GOOD}\n"  # two records on one line
        "\n"
        "I hope this helps!"
    )
    rows, counts = parse(schema, text)
    assert len(rows) == 4 and counts == {"extra_text_lines": 2}
    assert rows[1] == {"age": 41, "bmi": 30.0, "smoker": "yes", LABEL: 1}


@pytest.mark.parametrize("text, reason", [
    ("age is 35, bmi is 25.5, class is 1.", "missing_feature"),
    ("age is 35, bmi is 25.5, smoker is no, height is 180, class is 1.", "unknown_feature"),
    ("age is 35, age is 36, bmi is 25.5, smoker is no, class is 1.", "duplicate_feature"),
    ("age is thirty, bmi is 25.5, smoker is no, class is 1.", "wrong_type"),
    ("age is 35.5, bmi is 25.5, smoker is no, class is 1.", "wrong_type"),  # not an integer
    ("age is 35, bmi is 25.5 kg/m2, smoker is no, class is 1.", "wrong_type"),
    ("age is 35, bmi is nan, smoker is no, class is 1.", "wrong_type"),
    ("age is 35, bmi is 25.5, smoker is sometimes, class is 1.", "unknown_category"),
    ("age is 35, bmi is 25.5, smoker is no, class is 2.", "unknown_category"),
    ("age is 35, bmi is 99, smoker is no, class is 1.", "out_of_range"),  # range 18.5-41 +- 10 %
    ("age is 1, bmi is 25.5, smoker is no, class is 1.", "out_of_range"),
])
def test_malformed_records_are_rejected_with_their_reason(schema, text, reason):
    rows, counts = parse(schema, text)
    assert rows == [] and counts == {reason: 1}


def test_range_margin(schema):
    rows, _ = parse(schema, "age is 64, bmi is 43.2, smoker is no, class is 0.")  # inside max + 10 % of span
    assert len(rows) == 1


def test_truncated_reply(schema):
    text = f"{GOOD}\nage is 35, bmi is 2"
    rows, counts = parse(schema, text, truncated=True)
    assert len(rows) == 1 and counts == {"truncated": 1}
    # a cut record that happens to hold every field is still refused: its last value may be cut short
    rows, counts = parse(schema, f"{GOOD}\nage is 35, bmi is 25.5, smoker is no, class is 1", truncated=True)
    assert len(rows) == 1 and counts == {"truncated": 1}
    # the same text not cut by the token limit: the record just lacks its final period
    rows, counts = parse(schema, f"{GOOD}\nage is 35, bmi is 25.5, smoker is no, class is 1")
    assert len(rows) == 2 and counts == {}
    # a record cut in the middle of a reply that ended normally lacks features
    rows, counts = parse(schema, f"age is 35, bmi is\n{GOOD}")
    assert len(rows) == 1 and counts == {"missing_feature": 1}


def test_noise_only(schema):
    rows, counts = parse(schema, "lorem ipsum\n\n12345\n is is is")
    assert rows == [] and counts == {"extra_text_lines": 3}


def test_group_and_copies(schema):
    X = pd.DataFrame({"x": [1.0, 2.0], "c": pd.Categorical(["a", "b"])})
    s = Schema(X, "y", ["p", "q"], group_name="sex", groups=["f", "m"])
    row = {"x": 1.0, "c": "a", GROUP: "f", LABEL: "q"}
    assert s.serialize(row) == "x is 1, c is a, sex is f, y is q."
    rows, _ = s.parse("y is q, sex is f, c is a, x is 1.0.")  # any order
    assert rows == [row] and s.canonical(rows[0]) == s.canonical(row)
    assert conditioning_prefix(s, {LABEL: "q", GROUP: "f"}) == "y is q, sex is f,"


def test_in_context_messages(schema):
    msgs = in_context_messages(schema, [GOOD, GOOD], k=7, target={LABEL: 1}, description="a patient",
                               feature_descriptions={"bmi": "body mass index"})
    assert [m["role"] for m in msgs] == ["system", "user", "user", "user"]
    assert "a patient" in msgs[0]["content"]
    assert "7 new records in which class is 1" in msgs[1]["content"]
    assert "bmi (body mass index)" in msgs[1]["content"] and "smoker (smoker: one of no, yes)" in msgs[1]["content"]
    assert msgs[2]["content"] == f"{GOOD}\n{GOOD}"
    assert "only" in msgs[3]["content"]
    merged = merge_consecutive(msgs)
    assert [m["role"] for m in merged] == ["system", "user"] and GOOD in merged[1]["content"]
    # without a description the topic is built from the column names
    assert "age, bmi, smoker, class" in in_context_messages(schema, [GOOD], 1, {LABEL: 1})[0]["content"]
