"""Requests that arrive while the model is busy are predicted together, in one call.

A scikit-learn model's cost per call is mostly fixed (a forest of 200 trees answers one row in
about the time it answers a hundred), so a server that predicts each request on its own spends
its time on that overhead and, on a few cores, on threads waiting for the GIL. Here one
prediction runs at a time; requests that come in meanwhile wait in a queue and go in as one
frame the moment it finishes. An idle server adds no wait: a lone request is predicted at once,
and a lone small request for a compiled model is predicted on the event loop itself.
If a merged call fails, each request in it is predicted on its own, so one bad request fails
alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate import defaults

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MAX_ROWS = defaults.MAX_BATCH_ROWS
# A lone request of at most this many rows for a model that says it runs inline (a compiled
# model: tens of microseconds, the GIL released) is predicted on the event loop: the hop to a
# worker thread and back would cost more than the prediction.
INLINE_ROWS = 16


@dataclass
class _Job:
    model: Any
    frame: pd.DataFrame
    answer: asyncio.Future[list[Any]] = field(repr=False)


class Batcher:
    """Predicts ``frame`` with ``model``, merging requests that queue while one runs.

    ``run_in_thread`` runs a blocking call off the event loop (the server's thread pool).
    Requests for different models (a deploy switched versions) are never merged.
    """

    def __init__(
        self,
        run_in_thread: Callable[..., Any],
        max_rows: int = DEFAULT_MAX_ROWS,
        on_call: Callable[[int], None] = lambda requests: None,
    ) -> None:
        self.max_rows = max_rows
        self._run = run_in_thread
        self._on_call = on_call  # told how many requests each model call answered
        self._queue: list[_Job] = []
        self._busy = False

    async def predict(self, model: Any, frame: pd.DataFrame) -> list[Any]:
        if not self._busy and getattr(model, "runs_inline", False) and len(frame) <= INLINE_ROWS:
            self._on_call(1)
            [answer] = predict_together([(model, frame)])
            if isinstance(answer, BaseException):
                raise answer
            return answer
        job = _Job(model, frame, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await job.answer

    async def _drain(self) -> None:
        batch: list[_Job] = []
        try:
            while self._queue:
                batch = self._next_batch()
                self._on_call(len(batch))
                try:
                    results = await self._run(predict_together, [(j.model, j.frame) for j in batch])
                except Exception as exc:  # the pool itself failed: no request may wait forever
                    results = [exc] * len(batch)
                for job, result in zip(batch, results, strict=True):
                    if job.answer.done():
                        continue  # the client went away
                    if isinstance(result, BaseException):
                        job.answer.set_exception(result)
                    else:
                        job.answer.set_result(result)
        finally:
            self._busy = False
            for job in [*batch, *self._queue]:  # cancelled (the server stops): none left waiting
                if not job.answer.done():
                    job.answer.cancel()
            self._queue = []

    def _next_batch(self) -> list[_Job]:
        """The queue's first job and those after it for the same model, in arrival order, up
        to ``max_rows``. Jobs for another model (a canary's, or the version a deploy replaced)
        between them keep their places for the next call: with a canary on a tenth of the
        requests, the other nine tenths still go in together."""
        first = self._queue[0]
        batch: list[_Job] = []
        rest: list[_Job] = []
        rows, full = 0, False
        for job in self._queue:
            if job.model is first.model and not full:
                if not batch or rows + len(job.frame) <= self.max_rows:
                    batch.append(job)
                    rows += len(job.frame)
                    continue
                full = True  # later jobs for this model wait, in order, for the next call
            rest.append(job)
        self._queue = rest
        return batch


def predict_together(jobs: list[tuple[Any, pd.DataFrame]]) -> list[list[Any] | BaseException]:
    """Each frame's predictions, from one call when the frames can be joined."""
    joined = _predict_joined(jobs) if len(jobs) > 1 else None
    return joined or [_predict_one(model, frame) for model, frame in jobs]


def _predict_joined(jobs: list[tuple[Any, pd.DataFrame]]) -> list[list[Any] | BaseException] | None:
    """One call for all the frames, split back per frame; None when the call fails (some
    request in it is bad: the caller finds which by predicting them one at a time)."""
    model = jobs[0][0]
    try:
        predictions = model.predict(_joined([frame for _, frame in jobs]))
    except Exception:
        return None
    answers: list[list[Any] | BaseException] = []
    start = 0
    for _, frame in jobs:
        answers.append(predictions[start : start + len(frame)].tolist())
        start += len(frame)
    return answers


def _joined(frames: list[Any]) -> Any:
    """A request's rows (mlgate.serve.payload.Rows) or frames, as one."""
    from mlgate.serve.payload import Rows

    if isinstance(frames[0], Rows):
        return Rows.concat(frames)
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _predict_one(model: Any, frame: pd.DataFrame) -> list[Any] | BaseException:
    try:
        return list(model.predict(frame).tolist())
    except Exception as exc:  # the model's own failure, reported to that request alone
        return exc
