"""How much memory this process may still take: what a declared size is checked against
before a file's data is read or converted."""

from __future__ import annotations

import os
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no address-space limit to read
    resource = None  # type: ignore[assignment]

__all__ = ["available_memory", "format_bytes"]

_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def available_memory() -> int | None:
    """The bytes this process can still allocate, or ``None`` when nothing says.

    The least of: the system's available memory (``MemAvailable`` of ``/proc/meminfo``, else
    ``sysconf``), the room left under a container's cgroup limit, and the room left under
    the address-space limit (``ulimit -v``, ``RLIMIT_AS``) of this process.

    Returns
    -------
    int or None
    """
    bounds = [b for b in (_system(), _cgroup(), _address_space()) if b is not None]
    return max(min(bounds), 0) if bounds else None


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):  # absent, "max", unreadable
        return None


def _proc_field(path: str, field: str) -> int | None:
    """A ``kB`` field of a ``/proc`` file, in bytes."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _system() -> int | None:
    found = _proc_field("/proc/meminfo", "MemAvailable")
    if found is not None:
        return found
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup() -> int | None:
    for limit_file, usage_file in _CGROUP_FILES:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:  # v1's "no limit"
            return limit - usage
    return None


def _address_space() -> int | None:
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = _proc_field("/proc/self/status", "VmSize")
    return None if used is None else soft - used


def format_bytes(n: int) -> str:
    """``1073741824`` -> ``"1.0 GiB"`` (and the bytes below 1 KiB as they are)."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover - the loop returns
