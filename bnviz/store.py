"""Finished results on disk, one file per request, safe against crashes and bad disks.

The store knows requests only through `bnviz.request.Request` (a hash, a file
suffix, and how to encode and decode a result), so any kind of request is kept
the same way. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bnviz.request import Request

log = logging.getLogger(__name__)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


# The disk the store may fill (`BNVIZ_STORE_LIMIT_MB`): a comparison's result is 0.1 to 1 MB,
# so a thousand or more of them; past it the least recently used go (`ResultsStore.evict`).
DEFAULT_LIMIT_MB = 1024.0
LIMIT_VARIABLE = "BNVIZ_STORE_LIMIT_MB"
# `<request hash><suffix>` (a sweep's hash starts "sweep-"), nothing else
ENTRY = re.compile(r"^(sweep-)?[0-9a-f]{16}\.(npz|csv)$")


def limit_from_environment() -> float:
    """`BNVIZ_STORE_LIMIT_MB` in MB (above 0), else `DEFAULT_LIMIT_MB`."""
    try:
        limit = float(os.environ.get(LIMIT_VARIABLE, DEFAULT_LIMIT_MB))
    except ValueError:
        return DEFAULT_LIMIT_MB
    return limit if limit > 0 else DEFAULT_LIMIT_MB


def default_cache_dir() -> Path:
    """``$BNVIZ_CACHE_DIR``, else ``~/.cache/bnviz``."""
    if os.environ.get("BNVIZ_CACHE_DIR"):
        return Path(os.environ["BNVIZ_CACHE_DIR"])
    return Path.home() / ".cache" / "bnviz"


class ResultsStore:
    """Finished results on disk, one ``<request hash><suffix>`` file each.

    Writes go to a temporary file in the same directory and are renamed into
    place, so a reader (or a crash) never sees half a file. An entry that cannot
    be read is logged, removed and reported as absent, so it is recomputed.
    Temporary files carry the writer's process id, so the leftovers of a writer
    killed mid-write can be told from a write in progress and swept.
    """

    def __init__(self, directory: Path | None = None, limit_mb: float | None = None) -> None:
        """``limit_mb``: the disk its entries may take (`limit_from_environment` if None)."""
        self.directory = Path(directory) if directory else default_cache_dir()
        self.limit_bytes = int((limit_mb or limit_from_environment()) * 2**20)
        # config hash -> why its entry was discarded, so a page can say why it recomputes.
        self.discarded: dict[str, str] = {}

    def check_writable(self) -> str | None:
        """None if results can be saved here, else why not (the error, in words)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as error:
            return f"{type(error).__name__}: {error}"
        return None

    def sweep_temporary(self) -> list[Path]:
        """Remove temporary files left by writers that died mid-write; returns them.

        A ``<hash>.<pid>.<random>.tmp`` file whose process is gone will never be
        renamed into place. Files without a pid (older versions) go after an hour.
        """
        removed = []
        try:
            candidates = list(self.directory.glob("*.tmp"))
        except OSError:
            return removed
        for path in candidates:
            parts = path.name.split(".")
            try:
                pid = int(parts[1]) if len(parts) >= 4 else None
                stale = (not _process_alive(pid)) if pid is not None \
                    else time.time() - path.stat().st_mtime > 3600
                if stale:
                    path.unlink()
                    removed.append(path)
            except (OSError, ValueError):
                continue
        if removed:
            log.warning("results store: removed %d unfinished write(s) left by a killed "
                        "process: %s", len(removed), ", ".join(p.name for p in removed))
        return removed

    def path_for(self, request: Request) -> Path:
        """Where the result of ``request`` lives."""
        return self.directory / f"{request.config_hash()}{request.suffix}"

    def __contains__(self, request: Request) -> bool:
        return self.path_for(request).exists()

    def _write_atomically(self, target: Path, content: bytes) -> None:
        # The temporary name carries the writer's pid, so `sweep_temporary` can tell the
        # leftovers of a killed writer from a write in progress.
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=f"{target.stem}.{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
            self.discarded.pop(target.stem, None)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _discard(self, path: Path, error: Exception) -> None:
        log.warning("results store: discarding unreadable entry %s (%s)", path, error)
        self.discarded[path.stem] = f"{type(error).__name__}: {error}"[:200]
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def save(self, request: Request, result: Any, keep: frozenset[str] = frozenset()) -> Path:
        """Persist ``result`` atomically (temporary file, then rename); returns its path.
        Then, past the disk limit, the least recently used entries go (`evict`), never this
        one nor those hashed in ``keep``."""
        target = self.path_for(request)
        self._write_atomically(target, request.encode_result(result))
        self.evict(keep | {request.config_hash()})
        return target

    def entries(self) -> list[Path]:
        """The store's result files (writes in progress, probes and other files not among
        them), least recently used first: saved or last read."""
        try:
            found = [(path.stat().st_mtime, path) for path in self.directory.iterdir()
                     if ENTRY.match(path.name)]
        except OSError:
            return []
        return [path for _, path in sorted(found)]

    def evict(self, keep: frozenset[str] = frozenset()) -> list[str]:
        """Remove the least recently used entries until the store's files fit its limit,
        never those hashed in ``keep`` (being written, or shown: the results kept in
        memory). Returns the hashes removed; each is logged."""
        sizes = {}
        for path in self.entries():
            with contextlib.suppress(OSError):
                sizes[path] = path.stat().st_size
        total, removed = sum(sizes.values()), []
        for path, size in sizes.items():
            if total <= self.limit_bytes:
                break
            if path.name.split(".")[0] in keep:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed.append(path.name.split(".")[0])
        if removed:
            log.info("results store: evicted %d least recently used result(s) to keep within "
                     "%.0f MB: %s", len(removed), self.limit_bytes / 2**20, ", ".join(removed))
        return removed

    def load(self, request: Request) -> Any | None:
        """The stored result of ``request``, or None if absent or unreadable.

        An unreadable entry (damaged, of another format, of another request) is logged,
        removed and remembered in `discarded`, so it is trained again.
        """
        path = self.path_for(request)
        if not path.exists():
            return None
        try:
            result = request.decode_result(path.read_bytes())
        except FileNotFoundError:  # evicted (or removed) since: simply not there
            return None
        except Exception as error:  # any fault in an entry means: recompute it
            self._discard(path, error)
            return None
        with contextlib.suppress(OSError):  # read now: the last to be evicted
            os.utime(path)
        return result
