"""Jobs in worker processes, and the dock that shows them.

The manager polls each :class:`WorkerJob` from a timer on the GUI thread: the
worker does the work, the GUI only forwards progress (Orange3's pattern).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.progress import format_duration


class JobManager(QObject):
    started = Signal(object)   # WorkerJob
    updated = Signal(object)
    finished = Signal(object)

    POLL_MS = 100

    def __init__(self, parent=None, cluster_address=None):
        super().__init__(parent)
        self.jobs: list = []  # WorkerJob
        #: () -> the Ray address new jobs use (the window's Cluster setting), or None: this machine
        self.cluster_address = cluster_address or (lambda: None)
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self.poll)

    @property
    def running(self) -> list:
        return [j for j in self.jobs if not j.finished]

    def start(self, project, spec):
        from workbench.core.jobs import WorkerJob  # multiprocessing and friends: not before the first job

        job = WorkerJob(project, spec, cluster=self.cluster_address())
        job.start()
        self.jobs.append(job)
        self.started.emit(job)
        self._timer.start()
        return job

    def poll(self) -> None:
        for job in list(self.running):
            messages = job.poll()
            if messages:
                self.updated.emit(job)
            if job.finished:
                self.finished.emit(job)
        if not self.running:
            self._timer.stop()

    def cancel_all(self) -> None:
        for job in self.running:
            job.cancel()

    def wait_all(self, timeout: float = 10.0) -> None:
        for job in self.running:
            job.cancel()
            job.wait(timeout)
            self.finished.emit(job)


class JobRow(QWidget):
    def __init__(self, job, parent=None):
        super().__init__(parent)
        self.job = job
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        layout = QHBoxLayout()
        layout.setContentsMargins(6, 2, 6, 2)
        column.addLayout(layout)
        # A job on a Ray cluster: the cluster's nodes with their CPUs and GPUs, as the worker reports them.
        self.nodes = QLabel()
        self.nodes.setContentsMargins(12, 0, 6, 2)
        self.nodes.setWordWrap(True)
        self.nodes.hide()
        column.addWidget(self.nodes)
        self.title = QLabel(job.spec.title or f"{job.spec.plugin}.{job.spec.job}")
        self.title.setMinimumWidth(180)
        from PySide6.QtWidgets import QProgressBar  # the first job's row: not at start-up (its enums)

        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first progress message
        self.bar.setMinimumWidth(200)
        self.message = QLabel("starting…")
        self.message.setMinimumWidth(160)
        self.times = QLabel("0:00")
        self.times.setMinimumWidth(120)
        self.cancel = QToolButton()
        self.cancel.setText("✕")
        self.cancel.setToolTip("Cancel this job")
        self.cancel.clicked.connect(job.cancel)
        self._final_elapsed: float | None = None  # frozen when the job ends: the clock stops there
        for w, stretch in ((self.title, 0), (self.bar, 2), (self.message, 2), (self.times, 0), (self.cancel, 0)):
            layout.addWidget(w, stretch)

    def refresh(self) -> None:
        t = self.job.tracker
        self._show_cluster()
        if self.job.finished:
            self._show_outcome()
            return
        if t.total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * (t.fraction or 0)))
            self.bar.setFormat(f"{t.done:g}/{t.total:g}")
        if self.job.message:
            self.message.setText(self.job.message)
        self.times.setText(f"{format_duration(t.elapsed)}  ETA {format_duration(t.eta)}")

    def _show_cluster(self) -> None:
        info = getattr(self.job, "cluster", None)
        if not info:
            return
        self.nodes.setText(cluster_text(info))
        self.nodes.show()

    def _show_outcome(self) -> None:
        """A job that ended shows how it ended and how long it ran; an ETA means nothing any more."""
        t = self.job.tracker
        if self._final_elapsed is None:
            self._final_elapsed = t.elapsed
        status = self.job.status
        self.cancel.setEnabled(False)
        self.cancel.setToolTip(f"This job has {status if status != 'done' else 'finished'}")
        if self.bar.maximum() == 0:  # still the busy indicator: stop it
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000 if status == "done" else 0)
        elif status == "done":
            self.bar.setValue(self.bar.maximum())
        self.bar.setFormat(f"{t.done:g}/{t.total:g}" if t.total else status)
        text = status
        if status == "failed" and self.job.result:
            text = f"failed: {str(self.job.result).strip().splitlines()[-1]}"
        self.message.setText(text)
        self.message.setToolTip(str(self.job.result) if status == "failed" else "")
        self.times.setText(f"{format_duration(self._final_elapsed)}  {status}")


def cluster_text(info: dict) -> str:
    """"On Ray cluster ADDRESS: 2 nodes, 16 CPUs, 2 GPUs — 10.0.0.5 (8 CPUs, 1 GPU); …"."""
    nodes = info.get("nodes") or []

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    cpus, gpus = sum(n.get("cpus", 0) for n in nodes), sum(n.get("gpus", 0) for n in nodes)
    each = "; ".join(f"{n.get('address') or n.get('id')} ({count(n.get('cpus', 0), 'CPU')}, "
                     f"{count(n.get('gpus', 0), 'GPU')})" for n in nodes)
    return (f"On Ray cluster {info.get('address')}: {count(len(nodes), 'node')}, {count(cpus, 'CPU')}, "
            f"{count(gpus, 'GPU')} — {each}")


class JobsDockWidget(QWidget):
    """One row per job: title, progress bar, message, elapsed, ETA, cancel.

    ``content_changed`` says when rows came or went, so that the window can size the
    dock to what it shows: one line while idle, the rows while jobs run.
    """

    content_changed = Signal()
    MAX_ROWS_SHOWN = 4  # more rows scroll

    def __init__(self, manager: JobManager, parent=None):
        super().__init__(parent)
        self.manager = manager
        self.rows: dict[int, JobRow] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("No jobs running. Start one from a plugin tab.")
        self.empty.setContentsMargins(8, 4, 8, 4)
        outer.addWidget(self.empty)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        self.inner = QWidget()
        self.list = QVBoxLayout(self.inner)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.addStretch(1)
        self.area.setWidget(self.inner)
        # A scroll area asks for ~70 px by default; one job row is enough before it scrolls.
        self.area.setMinimumHeight(self.empty.sizeHint().height())
        outer.addWidget(self.area)
        self.area.hide()  # only takes room while there are jobs to show
        manager.started.connect(self._add)
        manager.updated.connect(self._update)
        manager.finished.connect(self._finished)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)  # elapsed time moves even without messages
        self._tick.timeout.connect(self._refresh_all)
        self._tick.start()

    def _add(self, job) -> None:
        row = JobRow(job)
        self.rows[id(job)] = row
        self.list.insertWidget(self.list.count() - 1, row)
        self.empty.hide()
        self.area.show()
        self.content_changed.emit()

    def _update(self, job) -> None:
        row = self.rows.get(id(job))
        if row:
            row.refresh()

    def _finished(self, job) -> None:
        row = self.rows.pop(id(job), None)
        if row:
            row.refresh()
            # Leave the finished row visible briefly so the outcome can be read.
            QTimer.singleShot(4000, row.deleteLater)
        if not self.rows:
            QTimer.singleShot(4100, self._show_empty_if_idle)

    def _show_empty_if_idle(self) -> None:
        if not self.rows:
            self.empty.show()
            self.area.hide()
            self.content_changed.emit()

    @property
    def idle(self) -> bool:
        return self.area.isHidden()

    def preferred_height(self) -> int:
        """The height that shows the idle line, or the job rows (up to MAX_ROWS_SHOWN)."""
        if self.idle:
            return self.empty.sizeHint().height()
        rows = [self.list.itemAt(i).widget() for i in range(self.list.count())]
        heights = [w.sizeHint().height() for w in rows if w is not None]
        shown = heights[-self.MAX_ROWS_SHOWN:]
        frame = 2 * self.area.frameWidth()
        return sum(shown) + frame + self.list.spacing() * max(0, len(shown) - 1)

    def _refresh_all(self) -> None:
        for row in self.rows.values():
            row.refresh()
