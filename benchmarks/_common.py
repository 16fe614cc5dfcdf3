"""Helpers shared by the benchmarks: machine facts, timing statistics, peak RSS, matmul peak.

Only the standard library and torch: no psutil.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Iterable


def n_cores() -> int:
    """Cores this process may run on (affinity), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags(wanted: Iterable[str] = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")) -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def mem_total_gb() -> float | None:
    v = proc_status_kb("MemTotal", "/proc/meminfo")
    return round(v / 2**20, 2) if v else None


def machine_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "os_cpu_count": os.cpu_count(),
        "usable_cores": n_cores(),
        "mem_total_gb": mem_total_gb(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "mkl": bool(torch.backends.mkl.is_available()),
        "loadavg_at_start": loadavg(),
    }
    for pkg in ("transformers", "peft", "trl", "accelerate"):
        try:
            mod = __import__(pkg)
            info[pkg] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001 - optional packages
            info[pkg] = None
    return info


# ---- statistics ---------------------------------------------------------------------


def median(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return statistics.median(xs) if xs else None


def spread(xs: Iterable[float]) -> dict[str, Any]:
    """Median, min, max and relative IQR-ish spread ((max-min)/median) of timings."""
    xs = sorted(xs)
    if not xs:
        return {"n": 0}
    med = statistics.median(xs)
    return {
        "n": len(xs),
        "median": med,
        "min": xs[0],
        "max": xs[-1],
        "rel_range": (xs[-1] - xs[0]) / med if med else None,
    }


# ---- memory --------------------------------------------------------------------------


def proc_status_kb(key: str, path: str = "/proc/self/status") -> int | None:
    """A ``kB`` field of /proc/self/status (VmHWM, VmRSS) or /proc/meminfo."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_gb() -> float | None:
    kb = proc_status_kb("VmRSS")
    return kb / 2**20 if kb is not None else None


def peak_rss_gb() -> float | None:
    """VmHWM: the resident-set high-water mark of this process (since start or last reset)."""
    kb = proc_status_kb("VmHWM")
    if kb is None:  # not Linux: ru_maxrss (kB on Linux, bytes on macOS), cannot be reset
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**20


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ---- matmul peak -----------------------------------------------------------------------


def matmul_gflops(dtypes: Iterable[str] = ("fp32", "bf16"), n: int = 2048, reps: int = 5,
                  device: str = "cpu") -> dict[str, list[float]]:
    """GFLOP/s of ``torch.matmul`` on n x n x n, repetitions interleaved across dtypes.

    Each dtype gets one untimed warm-up call; then reps rounds of (fp32, bf16, ...).
    On a GPU each call is timed between synchronisations (fp32 as torch runs it by
    default: TF32 off unless the caller turned it on).
    """
    import torch

    dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    g = torch.Generator().manual_seed(0)
    mats = {}
    for d in dtypes:
        a = torch.randn(n, n, generator=g).to(device=device, dtype=dt[d])
        b = torch.randn(n, n, generator=g).to(device=device, dtype=dt[d])
        torch.matmul(a, b)  # warm-up (oneDNN primitive creation / cuBLAS handles, page faults)
        sync()
        mats[d] = (a, b)
    out: dict[str, list[float]] = {d: [] for d in dtypes}
    flops = 2.0 * n**3
    for _ in range(reps):
        for d in dtypes:
            a, b = mats[d]
            sync()
            t0 = time.perf_counter()
            torch.matmul(a, b)
            sync()
            out[d].append(flops / (time.perf_counter() - t0) / 1e9)
    return out


# ---- output --------------------------------------------------------------------------


def write_json(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(x: Any) -> str:
        if x is None:
            return "-"
        if isinstance(x, float):
            return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
        return str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
