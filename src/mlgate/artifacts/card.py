"""The model card (``model.json`` in a deployed version, ``models/model.json`` beside the model
in the repository): which columns the model takes and their types, whether it takes a frame or
a bare array, its task and classes, and a few rows it must predict (deploy's smoke test).

The pipeline's train stage and ``mlgate describe`` write it (``card_libraries`` and
``input_example`` shape its fields); deploy, serve, the compiler and the release record read it,
each through ``parse_card``: a card is a file anyone with the repository or the bucket can edit,
so every field is checked once here, and what is not a card reads as none.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CARD_FILE = "model.json"
CARD_SUFFIX = ".json"  # next to the model in the repository: models/model.json

FeatureKind = Literal["float", "integer", "text"]
Input = Literal["frame", "array"]


@dataclass(frozen=True)
class Feature:
    """One input column of the model, as the card names it."""

    name: str
    kind: FeatureKind
    nullable: bool = False  # the card allows a request to leave the column out of a row
    # whether the model predicts a row whose value here is missing (null, NaN, an empty CSV
    # cell): deploy asks the model itself (modelfile.refusing_missing); one that has no
    # imputer for the column answers 400 naming it, never a 500 or a guess
    takes_missing: bool = True
    dtype: str = "object"  # pandas' dtype in the training data, as the card spells it
    # a text column whose model refuses a category its training data did not have: the ones it
    # had (from the training data's profile), so a request with another is a 400 naming the
    # column, on either runtime (ONNX's one-hot encoder would take it silently); None: any
    categories: frozenset[str] | None = None

    @classmethod
    def from_card(cls, entry: Mapping[str, Any]) -> Feature:
        dtype = str(entry.get("dtype", "object"))
        kind: FeatureKind = (
            "float"
            if dtype.startswith("float")
            else "integer"
            if dtype.startswith(("int", "uint", "bool"))
            else "text"
        )
        return cls(str(entry["name"]), kind, entry.get("nullable") is True, dtype=dtype)


@dataclass(frozen=True)
class Card:
    """A model card, parsed: the fields mlgate reads, and the document as it was written."""

    features: tuple[Feature, ...] = ()
    takes: Input = "frame"
    task: str | None = None
    estimator_class: str | None = None
    input_example: tuple[dict[str, Any], ...] = ()  # rows the model must predict
    document: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def takes_array(self) -> bool:
        return self.takes == "array"

    def refusing_missing(self, names: Sequence[str]) -> Card:
        """This card, with ``names`` marked as taking no missing value."""
        refused = set(names)
        features = tuple(
            dataclasses.replace(f, takes_missing=f.name not in refused) for f in self.features
        )
        return dataclasses.replace(self, features=features)

    def refusing_unknown(self, known: Mapping[str, Sequence[str]]) -> Card:
        """This card, with each column of ``known`` taking only those categories."""
        features = tuple(
            dataclasses.replace(f, categories=frozenset(known[f.name])) if f.name in known else f
            for f in self.features
        )
        return dataclasses.replace(self, features=features)


EMPTY = Card()


def parse_card(document: Any) -> Card:
    """A card from its JSON document; what is no card (not an object) reads as none, and
    entries that are not a column (no name) are left out."""
    if not isinstance(document, dict):
        return EMPTY
    entries = document.get("features")
    features = tuple(
        Feature.from_card(entry)
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("name"), (str, int, float))
    )
    example = document.get("input_example")
    rows = (
        tuple(row for row in example if isinstance(row, dict)) if isinstance(example, list) else ()
    )
    task, estimator = document.get("task"), document.get("estimator_class")
    return Card(
        features=features,
        takes="array" if document.get("input") == "array" else "frame",
        task=task if isinstance(task, str) else None,
        estimator_class=estimator if isinstance(estimator, str) else None,
        input_example=rows,
        document=document,
    )


def read_card(path: Path) -> Card:
    """The card at ``path``; none when it is missing, unreadable or not JSON."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return EMPTY
    return parse_card(document)


def card_path(model_path: str) -> str:
    """Where a model's card sits in the repository: ``models/model.json`` beside
    ``models/model.pkl``."""
    return str(Path(model_path).with_suffix(CARD_SUFFIX))


def models_with_cards(files: Iterable[str]) -> list[str]:
    """The model files among a directory's ``files`` that have their card beside them
    (``model.pkl`` and ``model.json``): what a directory artifact's model is."""
    present = set(files)
    return sorted(p for p in present if not p.endswith(CARD_SUFFIX) and card_path(p) in present)


def card_libraries() -> dict[str, str]:
    """The card's ``libraries``: what the model was made with, for whoever loads it."""
    import platform

    import numpy as np
    import pandas as pd
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def input_example(rows: Any) -> list[dict[str, Any]]:
    """The card's ``input_example``: these rows (a pandas frame) as JSON records, missing
    values null."""
    return rows.astype(object).where(rows.notna(), None).to_dict("records")
