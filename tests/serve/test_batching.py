"""Requests queued while the model is busy are predicted together, each answered with its own
rows, on a real scikit-learn model run in a real thread."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlgate.serve.batching import Batcher


class CountedModel(LogisticRegression):
    """A logistic regression that remembers the size of every frame it was asked to predict."""

    calls: list[int]

    def predict(self, X: Any) -> np.ndarray:
        self.calls.append(len(X))
        return super().predict(X)


def trained(seed: int = 0) -> CountedModel:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    labels = (frame["x1"] + frame["x2"] * (1 if seed == 0 else -1) > 0).astype(int)
    model = CountedModel().fit(frame, labels)
    model.calls = []
    return model


def frames(count: int, rows: int) -> list[pd.DataFrame]:
    rng = np.random.default_rng(7)
    return [
        pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
        for _ in range(count)
    ]


def answer_all(batcher: Batcher, jobs: list[tuple[Any, pd.DataFrame]]) -> list[Any]:
    async def main() -> list[Any]:
        return await asyncio.gather(
            *(batcher.predict(m, f) for m, f in jobs), return_exceptions=True
        )

    return asyncio.run(main())


def test_requests_waiting_together_go_in_one_call_and_each_gets_its_own_rows() -> None:
    model, requests = trained(), frames(10, 3)
    sizes: list[int] = []
    answers = answer_all(
        Batcher(asyncio.to_thread, on_call=sizes.append), [(model, f) for f in requests]
    )
    assert model.calls == [30] and sizes == [10]
    assert answers == [LogisticRegression.predict(model, f).tolist() for f in requests]


def test_a_call_holds_at_most_max_rows_in_arrival_order() -> None:
    model, requests = trained(), frames(7, 30)
    answers = answer_all(Batcher(asyncio.to_thread, max_rows=100), [(model, f) for f in requests])
    assert model.calls == [90, 90, 30]
    assert answers == [LogisticRegression.predict(model, f).tolist() for f in requests]


def test_a_request_larger_than_max_rows_is_still_answered_alone() -> None:
    model, [big, small] = trained(), frames(2, 50)
    answer_all(Batcher(asyncio.to_thread, max_rows=10), [(model, big), (model, small)])
    assert model.calls == [50, 50]


def test_requests_for_different_models_are_never_merged() -> None:
    """A canary's request between the stable version's does not split their call."""
    old, new = trained(0), trained(1)
    requests = frames(5, 5)
    jobs = [
        (old, requests[0]),
        (old, requests[1]),
        (new, requests[2]),
        (old, requests[3]),
        (new, requests[4]),
    ]
    answers = answer_all(Batcher(asyncio.to_thread), jobs)
    assert old.calls == [15] and new.calls == [10]  # before: [10, 5] and [5, 5]
    assert answers == [LogisticRegression.predict(m, f).tolist() for m, f in jobs]


def test_one_bad_request_fails_alone_and_the_others_are_answered() -> None:
    model, requests = trained(), frames(3, 4)
    bad = requests[1].assign(x2="not a number")
    answers = answer_all(
        Batcher(asyncio.to_thread), [(model, requests[0]), (model, bad), (model, requests[2])]
    )
    assert isinstance(answers[1], ValueError)
    assert answers[0] == LogisticRegression.predict(model, requests[0]).tolist()
    assert answers[2] == LogisticRegression.predict(model, requests[2]).tolist()


def test_a_lone_request_is_predicted_at_once_and_the_batcher_is_reusable() -> None:
    model, [first, second] = trained(), frames(2, 2)
    batcher = Batcher(asyncio.to_thread)
    assert answer_all(batcher, [(model, first)]) == [
        LogisticRegression.predict(model, first).tolist()
    ]
    assert (
        answer_all(batcher, [(model, second)])[0]
        == LogisticRegression.predict(model, second).tolist()
    )
    assert model.calls == [2, 2]


def test_a_client_that_went_away_does_not_stop_the_others() -> None:
    model, requests = trained(), frames(3, 2)
    batcher = Batcher(asyncio.to_thread)

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(batcher.predict(model, f)) for f in requests]
        await asyncio.sleep(0)
        tasks[0].cancel()
        return await asyncio.gather(*tasks[1:])

    assert asyncio.run(main()) == [
        LogisticRegression.predict(model, f).tolist() for f in requests[1:]
    ]


@pytest.mark.parametrize("failure", [MemoryError, RuntimeError])
def test_a_failing_thread_pool_answers_every_waiting_request(failure: type[BaseException]) -> None:
    async def broken_pool(*_: Any) -> Any:
        raise failure()

    answers = answer_all(Batcher(broken_pool), [(trained(), f) for f in frames(3, 2)])
    assert all(isinstance(a, failure) for a in answers)


class CompiledModel(CountedModel):
    """As the server's ONNX model says of itself: a few rows are cheap enough for the loop."""

    runs_inline = True
    threads: list[int]

    def predict(self, X: Any) -> np.ndarray:
        import threading

        self.threads.append(threading.get_ident())
        return super().predict(X)


def test_a_small_request_for_a_compiled_model_is_predicted_on_the_event_loop() -> None:
    """The hop to a worker thread and back costs more than a compiled model's few rows; a
    larger request, or a scikit-learn model, still goes to the pool."""
    import threading

    compiled = CompiledModel().fit(*_xy())
    compiled.calls, compiled.threads = [], []
    loop_thread = threading.get_ident()  # asyncio.run runs the loop in this thread
    sizes: list[int] = []
    batcher = Batcher(asyncio.to_thread, on_call=sizes.append)
    small, large = frames(1, 3)[0], frames(1, 100)[0]
    answers = answer_all(batcher, [(compiled, small)])
    answers += answer_all(batcher, [(compiled, large)])
    assert compiled.calls == [3, 100] and sizes == [1, 1]
    assert compiled.threads[0] == loop_thread and compiled.threads[1] != loop_thread
    assert answers == [LogisticRegression.predict(compiled, f).tolist() for f in (small, large)]
    pickled = trained()
    pickled.threads = []  # type: ignore[attr-defined]
    answer_all(batcher, [(pickled, small)])
    assert pickled.calls == [3]


def test_a_compiled_model_s_failure_on_the_event_loop_is_that_request_s_own() -> None:
    compiled = CompiledModel().fit(*_xy())
    compiled.calls, compiled.threads = [], []
    bad = pd.DataFrame({"x1": ["not a number"], "x2": [1.0]})
    [answer] = answer_all(Batcher(asyncio.to_thread), [(compiled, bad)])
    assert isinstance(answer, Exception)


def _xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    return frame, (frame["x1"] + frame["x2"] > 0).astype(int)
