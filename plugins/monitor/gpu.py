"""GPU metrics through NVML (``nvidia-ml-py``), and a plain status when there is no GPU.

Nothing here raises because a GPU is missing: no ``nvidia-ml-py``, no driver
(libnvidia-ml not found), or a driver with no device each leave ``available``
False and a ``status`` sentence for the GPU panel; sampling then returns no
series. A device that fails mid-run (fell off the bus, driver reloaded) turns
the probe off with the error in ``status``, once.
"""

from __future__ import annotations


class GpuProbe:
    def __init__(self) -> None:
        self.available = False
        self.status = ""
        self.devices: list[dict] = []
        self._nvml = None
        self._handles: list = []
        try:
            import pynvml
        except ImportError:
            self.status = "no GPU: nvidia-ml-py is not installed"
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self.status = f"no GPU: NVML could not start ({exc}); no NVIDIA driver on this machine?"
            return
        except OSError as exc:
            self.status = f"no GPU: NVML could not load ({exc})"
            return
        try:
            count = pynvml.nvmlDeviceGetCount()
            for i in range(count):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                self._handles.append(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                self.devices.append({"index": i, "name": name.decode() if isinstance(name, bytes) else name})
        except pynvml.NVMLError as exc:
            self.status = f"no GPU: NVML started but listing devices failed ({exc})"
            self._shutdown(pynvml)
            return
        if not self._handles:
            self.status = "no GPU: the NVIDIA driver is loaded but reports no device"
            self._shutdown(pynvml)
            return
        self._nvml = pynvml
        self.available = True
        names = ", ".join(d["name"] for d in self.devices)
        self.status = f"{len(self.devices)} GPU{'s' if len(self.devices) > 1 else ''}: {names}"

    @staticmethod
    def _shutdown(pynvml) -> None:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - best effort on a driver that already failed
            pass

    def sample(self) -> dict[str, float]:
        """``gpu<i>.util_pct``, ``mem_used``, ``mem_pct``, ``temp_c``, ``power_w`` and
        ``gpu<i>.pid<pid>.mem_used`` per process; {} without a GPU."""
        if not self.available:
            return {}
        nv = self._nvml
        out: dict[str, float] = {}
        try:
            for i, h in enumerate(self._handles):
                p = f"gpu{i}."
                util = nv.nvmlDeviceGetUtilizationRates(h)
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                out[p + "util_pct"] = float(util.gpu)
                out[p + "mem_used"] = float(mem.used)
                out[p + "mem_pct"] = 100.0 * mem.used / mem.total if mem.total else 0.0
                try:
                    out[p + "temp_c"] = float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
                except nv.NVMLError:
                    pass  # not every board reports it
                try:
                    out[p + "power_w"] = nv.nvmlDeviceGetPowerUsage(h) / 1000.0
                except nv.NVMLError:
                    pass
        except nv.NVMLError as exc:
            self.available = False
            self.status = f"GPU sampling stopped: {exc}"
            return {}
        for row in self.processes():
            if row["used_bytes"] is not None:
                key = f"gpu{row['gpu']}.pid{row['pid']}.mem_used"
                out[key] = out.get(key, 0.0) + float(row["used_bytes"])
        return out

    def processes(self) -> list[dict]:
        """Per-process GPU memory: [{gpu, pid, used_bytes}]; [] without a GPU."""
        if not self.available:
            return []
        nv = self._nvml
        rows = []
        for i, h in enumerate(self._handles):
            for getter in (nv.nvmlDeviceGetComputeRunningProcesses, nv.nvmlDeviceGetGraphicsRunningProcesses):
                try:
                    procs = getter(h)
                except nv.NVMLError:
                    continue
                for p in procs:
                    used = getattr(p, "usedGpuMemory", None)
                    rows.append({"gpu": i, "pid": int(p.pid), "used_bytes": int(used) if used else None})
        return rows

    def close(self) -> None:
        if self._nvml is not None:
            self._shutdown(self._nvml)
            self._nvml = None
            self.available = False
