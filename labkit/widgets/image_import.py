"""Follow an image import while it runs: a live progress bar (bytes Glance has staged, and
the image's status) in a notebook, one line per status change in a terminal, and -- in both,
and in papermill/nbval -- one closing line, so stored outputs do not depend on timing.

The watch polls in a thread with a connection of its own, so it can be started *before*
the learner runs ``!openstack image import ...`` and catches the image still ``queued``.

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from labkit.errors import LabkitError
from labkit.images import Timeline, TimelinePoint, watch_import
from labkit.widgets.env import in_notebook, widgets_enabled

MiB = 1 << 20


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / MiB:.1f} MiB"


class ImportWatch:
    """One image's import, watched in the background. :meth:`wait` returns its
    :class:`~labkit.images.Timeline`.

    Introduced in notebooks/03-glance.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        image_id: str,
        name: str,
        total: int | None = None,
        staged_bytes: Callable[[str], int | None] | None = None,
        show: bool = True,
        interval: float = 0.2,
        start_timeout: float = 30.0,
        timeout: float = 900.0,
    ) -> None:
        self.image_id, self.name, self.total = image_id, name, total
        self.show = show
        self._connect = connect
        self._staged = staged_bytes
        self._interval, self._start_timeout, self._timeout = interval, start_timeout, timeout
        self._live = show and widgets_enabled()
        self._stream = show and not self._live and not in_notebook()
        self._bar: Any = None
        self._label: Any = None
        self._last_status = ""
        self._result: Timeline | None = None
        self._waiting_since: float | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> ImportWatch:
        if self._live:
            import ipywidgets as w
            from IPython.display import display

            self._bar = w.IntProgress(min=0, max=max(self.total or 1, 1), description=self.name)
            self._label = w.Label(value="queued: waiting for the import to start")
            display(w.VBox([self._bar, self._label]))  # type: ignore[no-untyped-call]
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = watch_import(
                self._connect(),
                self.image_id,
                interval=self._interval,
                timeout=self._timeout,
                give_up=self._give_up,
                staged_bytes=self._staged,
                on_point=self._on_point,
            )
        except BaseException as exc:  # handed to wait(), in the notebook's own thread
            self._error = exc

    def _give_up(self) -> bool:
        # No import yet: keep waiting while the learner reads and runs the next cells, but
        # not for ever once wait() is called (the import command failed, most likely).
        since = self._waiting_since
        return since is not None and time.monotonic() - since > self._start_timeout

    def _on_point(self, point: TimelinePoint) -> None:
        if self._live:
            done = point.status == "active"
            value = self.total if done else point.staged_bytes
            if value is not None:
                self._bar.value = min(value, self._bar.max)
            staged = (
                f", {_mib(point.staged_bytes)} of {_mib(self.total)} staged"
                if (point.staged_bytes is not None and not done)
                else ""
            )
            task = f", task {point.task_status}" if point.task_status else ""
            self._label.value = f"{point.status}{staged}{task}"
        elif self._stream and point.status != self._last_status:
            print(f"  {point.seconds:6.1f} s  {self.name}: {point.status}", flush=True)
        self._last_status = point.status

    def wait(self) -> Timeline:
        """Block until the import has ended; print one closing line."""
        self._waiting_since = time.monotonic()
        self._thread.join()
        if self._error is not None:
            raise self._error
        timeline = self._result
        assert timeline is not None
        if not timeline.started:
            raise LabkitError(
                f"No import started for image {self.name} within {self._start_timeout:.0f} s.",
                "Did the `openstack image import ...` command above fail? Its message says why; "
                "fix it and run the cells again from the image's creation.",
            )
        line = summary(self.name, timeline, timeline.size or self.total)
        if self._live:
            # The bar stays where it was shown (an earlier cell), full and labelled.
            if timeline.final_status == "active":
                self._bar.value = self._bar.max
            self._label.value = line
        if self.show:
            print(line, flush=True)
        return timeline


def summary(name: str, timeline: Timeline, total: int | None = None) -> str:
    """``trusty: queued -> importing -> active, 256.1 MiB pulled by Glance in 4.0 s``."""
    path = " -> ".join(status for status, _, _ in timeline.spans())
    if timeline.final_status == "active":
        seconds = timeline.import_seconds()
        return f"{name}: {path}, {_mib(total)} pulled over HTTP by Glance in {seconds:.1f} s"
    # How a failed import got there varies (it may end before a poll sees it importing).
    failed = timeline.points[-1].failed_import if timeline.points else ""
    return f"{name}: the import failed, the image is {timeline.final_status} again" + (
        f" (os_glance_failed_import={failed})" if failed else ""
    )
