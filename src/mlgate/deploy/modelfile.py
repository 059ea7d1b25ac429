"""The model file: refused unless it is a pickle or joblib dump whose md5 is the recorded one,
loaded, smoke-tested on its card's input example; shared by deploy and serve. Its card
(``artifacts.card``) and the training data's profile (``artifacts.profile``) sit beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate.artifacts.card import CARD_FILE, Card
from mlgate.errors import MlgateError, Refused
from mlgate.files import file_md5

# How a pickle (protocol 2 and up) or a joblib dump (plain, or zlib, gzip, bz2, xz, lzma or lz4
# compressed) begins. A file that begins otherwise is not a model and is never unpickled.
_MODEL_HEADERS = (
    b"\x80\x02",
    b"\x80\x03",
    b"\x80\x04",
    b"\x80\x05",
    b"\x78\x01",
    b"\x78\x5e",
    b"\x78\x9c",
    b"\x78\xda",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
    b"ZF",
)


def check_model_file(model_file: Path, shown: str | None = None) -> None:
    """Refuse a file that is no pickle or joblib dump (a CSV, a JSON file), before anything
    unpickles it."""
    try:
        with open(model_file, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise MlgateError(f"cannot read {shown or model_file}: {exc.strerror or exc}") from None
    if not head.startswith(_MODEL_HEADERS):
        raise Refused(
            f"{shown or model_file} is not a model file (it is no pickle or joblib "
            "dump): only model artifacts are loaded"
        )


def load_model(model_file: Path) -> Any:
    """Unpickle a model file; call only after its md5 was verified. A bare booster (LightGBM's,
    XGBoost's, CatBoost's) comes back as its library's scikit-learn estimator
    (mlgate.deploy.boosters)."""
    check_model_file(model_file)
    try:
        import joblib

        model = joblib.load(model_file)
    except Exception as exc:  # an unpickling error can be anything the pickle raises
        raise MlgateError(f"the model does not load: {type(exc).__name__}: {exc}") from None
    from mlgate.deploy import boosters

    try:
        return boosters.as_estimator(model)
    except MlgateError:
        raise
    except Exception as exc:  # the library's own error: a booster never trained, say
        raise MlgateError(f"the model does not load: {type(exc).__name__}: {exc}") from None


class Servable:
    """The model as the server calls it: ``predict`` takes a request's rows (serve's
    ``payload.Rows``, which build their ``frame()`` when asked) or a frame, and gives the model the frame it was trained on, or the
    card's columns in their order as an array when the card says its input is one (a model
    fitted on a bare matrix: a frame would only earn scikit-learn's feature-name warning)."""

    def __init__(self, model: Any, *, as_array: bool) -> None:
        self.model = model
        self.as_array = as_array

    def predict(self, rows: Any) -> Any:
        frame = rows.frame() if callable(getattr(rows, "frame", None)) else rows
        return one_label_each(self.model.predict(frame.to_numpy() if self.as_array else frame))

    def __getattr__(self, name: str) -> Any:  # classes_, n_jobs...: the model's own
        return getattr(self.model, name)


def one_label_each(predicted: Any) -> Any:
    """A model's predictions as one value per row: CatBoost's multi-class classifier gives a
    column of them (shape (n, 1)), which would be answered as a list per row."""
    import numpy as np

    answer = np.asarray(predicted)
    return answer[:, 0] if answer.ndim == 2 and answer.shape[1] == 1 else answer


def servable(model: Any, card: Card) -> Any:
    """The model as the server calls it (a compiled model takes the rows as they are)."""
    if getattr(model, "runtime", None) == "onnx":
        return model
    return Servable(model, as_array=card.takes_array)


NO_CARD = (
    f"the model has no card naming its input columns ({CARD_FILE} beside the model): write one "
    "with `mlgate describe MODEL --data FILE`, commit it and deploy again"
)


def smoke_test(model: Any, card: Card) -> int:
    """Predict the card's input example; the number of rows predicted (0: the card has none)."""
    if not card.input_example:
        return 0
    import pandas as pd

    features = card.feature_names
    try:
        frame = pd.DataFrame(list(card.input_example))
        predictions = servable(model, card).predict(frame[features] if features else frame)
    except Exception as exc:
        raise MlgateError(
            f"the model failed its smoke test on the card's input example: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if len(predictions) != len(frame):
        raise MlgateError(
            f"the model's smoke test returned {len(predictions)} predictions for {len(frame)} rows"
        )
    return len(frame)


def refusing_missing(model: Any, card: Card) -> list[str]:
    """The columns the model cannot predict without: the card's input example's first row with
    that column's value missing, predicted; a column whose row raises (no imputer for it) or
    gives a prediction that is not a finite number is one. [] when the card has no example."""
    import numpy as np
    import pandas as pd

    def missing(values: Any) -> Any:
        return np.nan if pd.api.types.is_numeric_dtype(values) else None

    return _refused(model, card, card.feature_names, missing)


UNSEEN = "\x00mlgate: a category no training data has"


def refusing_unknown(model: Any, card: Card) -> list[str]:
    """The text columns where the model refuses a category it was not trained on (an encoder
    that raises on unknown categories): the first example row with that column's value
    replaced by one no data has; a column whose row raises, or answers no finite number, is
    one. [] when the card has no example."""
    texts = [f.name for f in card.features if f.kind == "text"]
    return _refused(model, card, texts, lambda values: UNSEEN)


def _refused(model: Any, card: Card, names: list[str], replaced: Callable[[Any], Any]) -> list[str]:
    """Of ``names``, the columns where the model does not predict the card's first example row
    with that column's value replaced (``replaced(the column)``): it raises, or answers
    something that is not a finite number."""
    if not card.input_example or not names:
        return []
    import numpy as np
    import pandas as pd

    try:
        first = pd.DataFrame(list(card.input_example))[card.feature_names].iloc[:1]
    except (KeyError, ValueError, TypeError):
        return []
    servable_model = servable(model, card)
    refused = []
    for name in names:
        probe = first.copy()
        probe[name] = replaced(probe[name])
        try:
            answer = np.asarray(servable_model.predict(probe))
            finite = answer.dtype.kind not in "fc" or bool(np.isfinite(answer).all())
        except Exception:  # the model's own error, whatever its type: it does not take it
            finite = False
        if not finite:
            refused.append(name)
    return refused


def verify(path: Path, md5: str, what: str) -> None:
    """Refuse a file whose md5 is not the recorded one (before anything unpickles it)."""
    if not path.is_file():
        raise MlgateError(f"{what}: {path} is missing")
    actual = file_md5(path)
    if actual != md5:
        raise Refused(
            f"{what}: {path} has md5 {actual}, not the recorded {md5}: it was changed "
            "after deployment, and was not loaded"
        )
