"""Scoring requests in MLflow's formats, checked against a model card's columns."""

from __future__ import annotations

import json

import pytest

from mlgate.artifacts.card import parse_card
from mlgate.serve.payload import BadRequest, UnsupportedMediaType, parse

CARD = {
    "features": [
        {"name": "amount", "dtype": "float64"},
        {"name": "hour", "dtype": "int64"},
        {"name": "shop", "dtype": "str"},
    ]
}
FEATURES = parse_card(CARD).features
BIG = "1" + "0" * 400  # an integer no float holds
EXPECTED = [
    {"amount": 5.0, "hour": 3, "shop": "grocery"},
    {"amount": 7.5, "hour": 23, "shop": "fuel"},
]


def as_json(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "document",
    [
        {
            "dataframe_split": {
                "columns": ["amount", "hour", "shop"],
                "data": [[5, 3, "grocery"], [7.5, 23, "fuel"]],
            }
        },
        {
            "dataframe_records": [
                {"amount": 5, "hour": 3, "shop": "grocery", "extra": 1},
                {"shop": "fuel", "hour": 23, "amount": 7.5},
            ]
        },
        {
            "instances": [
                {"amount": 5, "hour": 3, "shop": "grocery"},
                {"amount": 7.5, "hour": 23, "shop": "fuel"},
            ]
        },
        {"instances": [[5, 3, "grocery"], [7.5, 23, "fuel"]]},
        {"inputs": {"amount": [5, 7.5], "hour": [3, 23], "shop": ["grocery", "fuel"]}},
        {
            "inputs": [
                {"amount": 5, "hour": 3, "shop": "grocery"},
                {"amount": 7.5, "hour": 23, "shop": "fuel"},
            ],
            "params": {"ignored": True},
        },
        {
            "dataframe_split": {
                "columns": ["amount", "hour", "shop"],
                "data": [[5, 3.0, "grocery"], [7.5, 23, "fuel"]],
            }
        },
    ],
)
def test_every_json_format_gives_the_same_frame(document: dict[str, object]) -> None:
    frame = parse(as_json(document), "application/json; charset=utf-8", FEATURES).frame()
    assert list(frame.columns) == ["amount", "hour", "shop"]
    assert frame.to_dict("records") == EXPECTED
    assert str(frame["amount"].dtype) == "float64"


def test_csv_with_a_header_row_is_cast_from_text() -> None:
    body = b"shop,hour,amount,extra\ngrocery,3,5,x\nfuel,23,7.5,y\n"
    assert parse(body, "text/csv", FEATURES).frame().to_dict("records") == EXPECTED


def test_a_missing_value_stays_missing_for_the_models_imputer() -> None:
    frame = parse(
        as_json({"dataframe_records": [{"amount": None, "hour": 3, "shop": None}]}),
        "application/json",
        FEATURES,
    ).frame()
    assert frame["amount"].isna().all() and frame["shop"].isna().all()


def test_an_integer_is_safe_text_but_a_number_string_is_not_a_number() -> None:
    frame = parse(
        as_json({"dataframe_records": [{"amount": 1, "hour": 3, "shop": 42}]}),
        "application/json",
        FEATURES,
    )
    assert frame["shop"].tolist() == ["42"]
    with pytest.raises(BadRequest, match=r"column 'amount' must hold numbers \(row 1\)"):
        parse(
            as_json({"dataframe_records": [{"amount": "12", "hour": 3, "shop": "a"}]}),
            "application/json",
            FEATURES,
        )


@pytest.mark.faults
@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "the body is not valid JSON"),
        (b"[1, 2]", "application/json", "must be an object with one of"),
        (as_json({"instances": [], "inputs": []}), "application/json", "exactly one of"),
        (as_json({"rows": []}), "application/json", "exactly one of"),
        (as_json({"dataframe_records": []}), "application/json", "non-empty list of rows"),
        (
            as_json({"dataframe_records": [{"amount": 1, "hour": 2}]}),
            "application/json",
            "row 1 lacks shop",
        ),
        (
            as_json({"instances": [[1, 2]]}),
            "application/json",
            "must have the model's 3 columns in order",
        ),
        (as_json({"dataframe_split": {"data": 5}}), "application/json", "dataframe_split must be"),
        (
            as_json({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}),
            "application/json",
            "row 1 has 2 values for 1 columns",
        ),
        (
            as_json({"dataframe_records": [{"amount": 1, "hour": 2.5, "shop": "a"}]}),
            "application/json",
            "column 'hour' must hold whole numbers (row 1)",
        ),
        (
            as_json({"dataframe_records": [{"amount": True, "hour": 2, "shop": "a"}]}),
            "application/json",
            "column 'amount' must hold numbers",
        ),
        (
            as_json({"dataframe_records": [{"amount": 1, "hour": 2, "shop": 1.5}]}),
            "application/json",
            "column 'shop' must hold text",
        ),
        (
            b"shop,hour,amount\na,1,secret-value\n",
            "text/csv",
            "column 'amount' must hold numbers (row 1)",
        ),
        (b"", "text/csv", "not a CSV table"),
        (b"\xff\xfe", "application/json", "not valid JSON"),
        # issue 19.4-5: client errors a model would fail on, named by column and row
        (
            b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "application/json",
            "nested too deeply",
        ),
        (
            b'{"dataframe_records": [{"amount": Infinity, "hour": 1, "shop": "a"}]}',
            "application/json",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b'{"dataframe_records": [{"amount": 1, "hour": 1, "shop": "a"}, {"amount": -Infinity, "hour": 1, "shop": "a"}]}',
            "application/json",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 2)",
        ),
        (
            b'{"dataframe_records": [{"amount": 1e308, "hour": 1, "shop": "a"}]}',
            "application/json",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38",
        ),
        (
            b'{"dataframe_records": [{"amount": 1e400, "hour": 1, "shop": "a"}]}',
            "application/json",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b'{"dataframe_records": [{"amount": ' + BIG.encode() + b', "hour": 1, "shop": "a"}]}',
            "application/json",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b'{"dataframe_records": [{"amount": 1, "hour": ' + BIG.encode() + b', "shop": "a"}]}',
            "application/json",
            "column 'hour' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b"shop,hour,amount\na,1,1e400\n",
            "text/csv",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b"shop,hour,amount\na,1,Infinity\n",
            "text/csv",
            "column 'amount' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
        ),
        (
            b"shop,hour,amount\na,1,1\nb," + BIG.encode() + b",1\n",
            "text/csv",
            "column 'hour' must hold numbers from -3.4e38 to 3.4e38 (row 2)",
        ),
        (
            as_json({"dataframe_records": [{"amount": 1, "hour": 2, "shop": "a"}, {}]}),
            "application/json",
            "row 2 lacks amount, hour, shop",
        ),
        (
            as_json(
                {
                    "dataframe_records": [
                        {"amount": 1, "hour": 2, "shop": "a"},
                        {"amount": 1, "shop": "b"},
                    ]
                }
            ),
            "application/json",
            "row 2 lacks hour",
        ),
        (
            as_json(
                {
                    "dataframe_split": {
                        "columns": ["amount", "hour", "shop"],
                        "data": [[1, 2, "a"], [3]],
                    }
                }
            ),
            "application/json",
            "row 2 has 1 value for 3 columns",
        ),
    ],
)
def test_bad_requests_name_the_problem_without_echoing_data(
    body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(BadRequest) as error:
        parse(body, content_type, FEATURES)
    assert message in str(error.value) and "secret-value" not in str(error.value)


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded"])
def test_other_content_types_are_unsupported(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="send application/json or text/csv"):
        parse(b"x", content_type, FEATURES)


def test_card_dtypes_map_to_three_kinds() -> None:
    card = {
        "features": [
            {"name": "a", "dtype": "float32"},
            {"name": "b", "dtype": "uint8"},
            {"name": "c", "dtype": "bool"},
            {"name": "d", "dtype": "category"},
        ]
    }
    assert [(f.name, f.kind) for f in parse_card(card).features] == [
        ("a", "float"),
        ("b", "integer"),
        ("c", "integer"),
        ("d", "text"),
    ]


# --- issue 19.4-6: every client error a 400 naming column and row; nothing echoed -----------


def test_a_column_the_card_marks_nullable_may_be_left_out() -> None:
    card = {
        "features": [
            {"name": "amount", "dtype": "float64", "nullable": True},
            {"name": "shop", "dtype": "str"},
        ]
    }
    frame = parse(
        as_json({"dataframe_records": [{"amount": 1, "shop": "a"}, {"shop": "b"}]}),
        "application/json",
        parse_card(card).features,
    ).frame()
    assert frame["amount"].tolist()[0] == 1.0 and frame["amount"].isna().tolist() == [False, True]


@pytest.mark.faults
def test_an_unsupported_content_type_is_never_echoed() -> None:
    with pytest.raises(UnsupportedMediaType) as error:
        parse(b"x", "<script>alert(1)</script>", FEATURES)
    assert "script" not in str(error.value) and "application/json" in str(error.value)
