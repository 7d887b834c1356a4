"""A live progress bar on stderr for a sync's writes, drawn by rich, when stderr is a terminal.

Elsewhere (a pipe, a file, a CI log, `TERM=dumb`) the sync prints its plain progress lines
as always. The bar never touches stdout; `NO_COLOR` drops its colours (rich reads it). It
starts with the first write, so messages before (fetching, retries) stay plain lines and
later ones print above it. A finished run leaves the full bar; a run that stops early, fails
or is interrupted erases it and gives the cursor back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from sync_client.safe_text import printable

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from sync_client.sync import Step


def stderr_is_a_terminal(stream: TextIO | None = None) -> bool:
    """True when a bar can be drawn: stderr is a TTY that understands cursor movement."""
    stream = sys.stderr if stream is None else stream
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
    return interactive and os.environ.get("TERM", "") != "dumb"


class ProgressBar:
    """`step` shows the writes: the model (or chunk) that started last, how many have finished
    of the total, and the time elapsed."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column

        self._progress: Progress = Progress(
            # Model ids hold `[`, not markup. A description rich measures as zero cells wide (a
            # lone emoji modifier, an unassigned code point) would get a zero-width column and
            # vanish: the column is at least one cell wide.
            TextColumn("{task.description}", markup=False, table_column=Column(min_width=1)),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            redirect_stdout=False,  # stdout holds only results
            redirect_stderr=True,  # lines written meanwhile print above the bar
        )
        self._task: TaskID | None = None

    def step(self, step: Step) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(
                printable(step.current), total=step.total, completed=step.done
            )
        elif step.finished:
            self._progress.update(self._task, completed=step.done, total=step.total)
        else:
            self._progress.update(
                self._task,
                description=printable(step.current),
                completed=step.done,
                total=step.total,
            )
        self._progress.refresh()  # a frame for each step, not only at the refresh rate

    def finish(self) -> None:
        """Every write was made: show the full bar and leave it."""
        if self._task is None:
            return
        total = self._progress.tasks[0].total
        self._progress.update(self._task, description="done", completed=total)
        self._close(erase=False)

    def abandon(self) -> None:
        """The run stopped early: erase the bar."""
        self._close(erase=True)

    def _close(self, *, erase: bool) -> None:
        if self._task is None:
            return
        self._task = None
        self._progress.live.transient = erase
        self._progress.stop()


@contextmanager
def progress_bar() -> Iterator[ProgressBar | None]:
    """A bar when stderr is a terminal, else None; whatever ends the block, the bar is
    finished or erased and the cursor shown."""
    if not stderr_is_a_terminal():
        yield None
        return
    bar = ProgressBar(sys.stderr)
    try:
        yield bar
    finally:
        bar.abandon()  # no-op after finish()
