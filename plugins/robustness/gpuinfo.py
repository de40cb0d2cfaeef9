"""The tab's GPU line while a run is going: memory and utilisation through NVML.

Reuses the monitor plugin's :class:`GpuProbe` (nvidia-ml-py), which never
raises for a missing GPU, driver or library; then the line says why there is
no reading, and nothing else changes. Qt-free, so it is tested without a window.
"""

from __future__ import annotations

GIB = 1024 ** 3


class GpuPanel:
    """Opens NVML on first use (not at tab creation: the window must start fast)."""

    def __init__(self, probe_factory=None) -> None:
        self._factory = probe_factory
        self.probe = None

    def _probe(self):
        if self.probe is None:
            if self._factory is None:
                from workbench_plugins.monitor.gpu import GpuProbe

                self._factory = GpuProbe
            self.probe = self._factory()
        return self.probe

    def text(self, pid: int | None = None) -> str:
        probe = self._probe()
        if not probe.available:
            return f"GPU: {probe.status or 'not available'}"
        sample = probe.sample()
        if not sample:  # sampling failed mid-run: the probe says why
            return f"GPU: {probe.status}"
        return "GPU: " + format_sample(sample, [d["name"] for d in probe.devices], pid)

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
            self.probe = None


def format_sample(sample: dict[str, float], names: list[str], pid: int | None = None) -> str:
    """One part per GPU: ``name util 40 %, memory 3.2 / 80.0 GiB (4 %), this run 1.1 GiB``."""
    parts = []
    for i, name in enumerate(names):
        p = f"gpu{i}."
        if p + "util_pct" not in sample:
            continue
        used = sample[p + "mem_used"]
        pct = sample.get(p + "mem_pct", 0.0)
        total = used * 100.0 / pct if pct else 0.0
        text = f"{name} util {sample[p + 'util_pct']:.0f} %, memory {used / GIB:.1f}"
        text += f" / {total / GIB:.1f} GiB ({pct:.0f} %)" if total else " GiB"
        own = sample.get(f"{p}pid{pid}.mem_used") if pid is not None else None
        if own is not None:
            text += f", this run {own / GIB:.1f} GiB"
        parts.append(text)
    return "; ".join(parts) if parts else "no reading"
