"""Live classes ("rooms"): the step a teacher's page is on and every student's answers.

A teacher opens a room for a lesson and gets a short code for the students' link and a key
for the teacher's own link; the store keeps only the key's SHA-256. Pages reach rooms through
the `RoomStore` protocol, so a store shared by several servers can replace `FileRoomStore`,
which needs nothing but a folder (the page puts it beside the results store). Every limit is
here: a room idle for `IDLE_SECONDS` is removed, a server runs at most `MAX_ROOMS` classes and
a class holds at most `MAX_STUDENTS` students, so what the disk holds is bounded. Every
refusal is a `RoomError` whose message a teacher or a student can act on. Pure Python: no
Streamlit, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

# Read aloud from a projector and typed on phones: no 0/O, 1/I/L to mix up.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# 31**5 codes, so a guessed code hits one of 50 open classes once in half a million tries;
# codes of 4 to 6 characters are accepted.
CODE_LENGTH = 5
MAX_ROOMS = 50
MAX_STUDENTS = 300
MAX_STEPS = 100
MAX_CHOICES = 26
IDLE_SECONDS = 12 * 3600
FILE_VERSION = 1

_CODE = re.compile(f"[{CODE_ALPHABET}]{{4,6}}")
# Starts with a letter or digit, so no id in the CSV reads as a spreadsheet formula.
_STUDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{3,31}")
_LESSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_STEP_KEY = re.compile(r"[0-9]{1,3}")
_KEY_SHA256 = re.compile(r"[0-9a-f]{64}")
_LONGEST_KEY = 200
# A temporary file older than this is the leftover of a writer that died: no write takes it.
_STALE_TEMPORARY_SECONDS = 3600


class RoomError(ValueError):
    """A refusal in plain words, to show as it is to the teacher or the student."""


@dataclass(frozen=True)
class Room:
    """One class as a page draws it, read-only: the store makes a new one for each change.

    ``step`` is 0-based; ``answers`` maps a step to each student's choice (0-based) by the
    student's random id; ``revealed_steps`` are the steps whose answers the teacher showed;
    ``students`` are the ids of everyone who joined; times are epoch seconds.
    """

    code: str
    lesson: str
    steps: int
    step: int
    revealed_steps: frozenset[int]
    answers: Mapping[int, Mapping[str, int]]
    students: frozenset[str]
    created: float
    last_active: float
    ended: bool

    @property
    def revealed(self) -> bool:
        """Whether the teacher showed the answers of the current step."""
        return self.step in self.revealed_steps

    @property
    def present(self) -> int:
        """How many students joined."""
        return len(self.students)

    def tally(self, step: int, choices: int) -> list[int]:
        """How many students picked each of the ``choices`` answers of ``step``."""
        counts = [0] * choices
        for choice in self.answers.get(step, {}).values():
            if 0 <= choice < choices:
                counts[choice] += 1
        return counts

    def answered(self, step: int) -> int:
        """How many students answered ``step``."""
        return len(self.answers.get(step, {}))


@runtime_checkable
class RoomStore(Protocol):
    """What a page asks of the rooms; `FileRoomStore` on one server, a shared store later.

    Every method raises `RoomError` for an unknown or malformed code and for a refusal.
    ``key`` is the teacher's key from the link, or None; a wrong or missing key is a student.
    """

    def open_room(self, lesson: str, steps: int) -> tuple[Room, str]:
        """A new class of ``lesson`` at its first step, and the teacher's key."""
        ...

    def room(self, code: str) -> Room:
        """The class with ``code`` (case and surrounding spaces do not matter)."""
        ...

    def is_teacher(self, code: str, key: str | None) -> bool:
        """Whether ``key`` is the teacher's key of the class."""
        ...

    def move(self, code: str, key: str | None, step: int) -> Room:
        """The teacher moves everyone to ``step``."""
        ...

    def reveal(self, code: str, key: str | None) -> Room:
        """The teacher shows the answers of the current step; it then takes no more."""
        ...

    def end(self, code: str, key: str | None) -> Room:
        """The teacher ends the class; its answers stay downloadable until it is idle."""
        ...

    def join(self, code: str, student: str) -> Room:
        """Count ``student`` as present."""
        ...

    def answer(self, code: str, student: str, step: int, choice: int, choices: int) -> Room:
        """Record ``student``'s ``choice`` among the ``choices`` answers of the current step."""
        ...

    def answers_csv(self, code: str, key: str | None) -> str:
        """The answers as CSV for the teacher: ``step, student, choice``, ids and no names."""
        ...


def new_student_id() -> str:
    """A random id for one student's browser: the only thing a class knows of a student."""
    return secrets.token_hex(6)


def normal_code(code: object) -> str:
    """``code`` in upper case without surrounding spaces, or a RoomError if it is no code."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if not _CODE.fullmatch(text):
        raise RoomError("That is not a class code: a code has 4 to 6 letters and digits, "
                        "like K7QX; check the code your teacher shows.")
    return text


def answers_table(room: Room) -> str:
    """``room``'s answers as CSV, ``step, student, choice``: one row an answer, 0-based step
    and choice, rows by step then id; the random ids are all it says of a student."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["step", "student", "choice"])
    for step, by_student in sorted(room.answers.items()):
        writer.writerows([step, student, choice] for student, choice in sorted(by_student.items()))
    return out.getvalue()


def _no_class(code: str) -> RoomError:
    return RoomError(f"There is no class with the code {code}; check the code your teacher "
                     f"shows (a class closes after {IDLE_SECONDS // 3600} hours without "
                     "activity).")


def _damaged(code: str) -> RoomError:
    return RoomError(f"The class {code} cannot be read on the server (its saved state is "
                     "damaged); the teacher can start a new class.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_student(student: object) -> str:
    if not isinstance(student, str) or not _STUDENT.fullmatch(student):
        raise RoomError("This browser's student id is not valid; reload the class's page.")
    return student


def _key_matches(key: object, key_sha256: str) -> bool:
    if not isinstance(key, str) or not key or len(key) > _LONGEST_KEY:
        return False
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    return hmac.compare_digest(digest, key_sha256)


def _require_teacher(key: object, key_sha256: str, action: str) -> None:
    if not _key_matches(key, key_sha256):
        raise RoomError(f"Only the teacher's link can {action}.")


def _require_running(room: Room) -> None:
    if room.ended:
        raise RoomError(f"The class {room.code} has ended.")


def _frozen(answers: Mapping[int, Mapping[str, int]]) -> Mapping[int, Mapping[str, int]]:
    return MappingProxyType({step: MappingProxyType(dict(by_student))
                             for step, by_student in answers.items()})


def _expect(condition: object, what: str) -> None:
    if not condition:
        raise ValueError(f"bad {what}")


def _encode(room: Room, key_sha256: str) -> bytes:
    data = {"version": FILE_VERSION, "code": room.code, "lesson": room.lesson,
            "steps": room.steps, "step": room.step, "revealed": sorted(room.revealed_steps),
            "answers": {str(step): dict(sorted(by_student.items()))
                        for step, by_student in sorted(room.answers.items())},
            "students": sorted(room.students), "created": room.created,
            "last_active": room.last_active, "ended": room.ended, "key_sha256": key_sha256}
    return json.dumps(data, separators=(",", ":")).encode()


def _decode(code: str, raw: bytes) -> tuple[Room, str]:
    """The room and its key's hash from a room file, every field checked (ValueError)."""
    data: Any = json.loads(raw)
    _expect(isinstance(data, dict) and data.get("version") == FILE_VERSION, "version")
    _expect(data.get("code") == code, "code")
    _expect(isinstance(data.get("lesson"), str) and _LESSON.fullmatch(data["lesson"]), "lesson")
    steps = data.get("steps")
    _expect(_is_int(steps) and 1 <= steps <= MAX_STEPS, "steps")
    _expect(_is_int(data.get("step")) and 0 <= data["step"] < steps, "step")
    revealed = data.get("revealed")
    _expect(isinstance(revealed, list)
            and all(_is_int(step) and 0 <= step < steps for step in revealed), "revealed")
    students = data.get("students")
    _expect(isinstance(students, list) and all(isinstance(student, str)
                                               and _STUDENT.fullmatch(student)
                                               for student in students), "students")
    answers = data.get("answers")
    _expect(isinstance(answers, dict), "answers")
    for step, by_student in answers.items():
        _expect(_STEP_KEY.fullmatch(step) and int(step) < steps, "answers' step")
        _expect(isinstance(by_student, dict) and all(
            _STUDENT.fullmatch(student) and _is_int(choice) and 0 <= choice < MAX_CHOICES
            for student, choice in by_student.items()), "answers")
    _expect(_is_time(data.get("created")) and _is_time(data.get("last_active")), "times")
    _expect(isinstance(data.get("ended"), bool), "ended")
    _expect(isinstance(data.get("key_sha256"), str)
            and _KEY_SHA256.fullmatch(data["key_sha256"]), "key")
    room = Room(code=code, lesson=data["lesson"], steps=steps, step=data["step"],
                revealed_steps=frozenset(revealed),
                answers=_frozen({int(step): by_student for step, by_student in answers.items()}),
                students=frozenset(students), created=float(data["created"]),
                last_active=float(data["last_active"]), ended=data["ended"])
    return room, data["key_sha256"]


def _parse(code: str, raw: bytes) -> tuple[Room | None, str]:
    try:
        return _decode(code, raw)
    except Exception as error:  # any fault in a room file means: damaged
        # Logged once per version of the file: the store's cache remembers the damage.
        log.warning("rooms: the file of class %s is damaged: %s", code, error)
        return None, ""


def _with_student(room: Room, student: str, limit: int) -> Room:
    if student in room.students:
        return room
    if len(room.students) >= limit:
        raise RoomError(f"This class already has {limit} students, its limit; ask your "
                        "teacher to start a second class.")
    return replace(room, students=room.students | {student})


def _new_code(directory: Path) -> str:
    for _ in range(100):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not (directory / f"{code}.json").exists():
            return code
    raise RoomError("No free class code was found; try again.")


def _sweep_temporary(directory: Path) -> None:
    # Temporary files carry file times, not the store's clock, so they age by the real one.
    with contextlib.suppress(OSError):
        for path in list(directory.glob(".*.tmp")):
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > _STALE_TEMPORARY_SECONDS:
                    path.unlink()


def _write_atomically(directory: Path, code: str, content: bytes) -> None:
    """``<code>.json`` replaced by ``content`` whole or not at all; RoomError if it fails."""
    temporary = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{code}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, directory / f"{code}.json")
        temporary = None
    except OSError as error:
        log.error("rooms: cannot save class %s: %s", code, error)
        raise RoomError(f"The class could not be saved on the server "
                        f"({error.strerror or type(error).__name__}); try again, and if it "
                        "keeps failing tell whoever runs the server.") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()


_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_for(directory: Path) -> threading.RLock:
    # One lock per folder, not per store object: two stores on one folder in one process
    # must not interleave their read-modify-writes either.
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(directory.resolve(), threading.RLock())


class FileRoomStore:
    """Rooms as one ``<CODE>.json`` file each in ``directory``, for the server's one process.

    Every change reads the room's file, changes it and writes it to a temporary file in the
    same folder that is renamed into place, all under a lock, so concurrent answers are never
    lost and a restart (a new store on the same folder) finds every room as it was. Reads
    are served from memory while the file is unchanged (its inode, time and size), so the
    pages of a whole class polling cost a ``stat`` each. Idle rooms are removed when a room
    is opened, and a room found idle when it is read.
    """

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time, *,
                 max_rooms: int = MAX_ROOMS, max_students: int = MAX_STUDENTS) -> None:
        self.directory = Path(directory)
        self.clock = clock
        self.max_rooms = max_rooms
        self.max_students = max_students
        self._lock = _lock_for(self.directory)
        # code -> (file identity, room or None when damaged, key hash)
        self._cache: dict[str, tuple[tuple[int, int, int], Room | None, str]] = {}

    def open_room(self, lesson: str, steps: int) -> tuple[Room, str]:
        """A new class of ``lesson`` (``steps`` steps) at step 0, and the teacher's key."""
        if not isinstance(lesson, str) or not _LESSON.fullmatch(lesson):
            raise RoomError("That is not the name of a lesson; pick a lesson from the list.")
        if not _is_int(steps) or not 1 <= steps <= MAX_STEPS:
            raise RoomError(f"A lesson has 1 to {MAX_STEPS} steps; this one cannot be taught.")
        key = secrets.token_urlsafe(16)
        with self._lock:
            now = self.clock()
            if self._sweep(now) >= self.max_rooms:
                raise RoomError(f"This server already runs {self.max_rooms} classes, its "
                                "limit; try again later or ask the teacher to end an old one.")
            room = Room(code=_new_code(self.directory), lesson=lesson, steps=steps, step=0,
                        revealed_steps=frozenset(), answers=_frozen({}), students=frozenset(),
                        created=now, last_active=now, ended=False)
            self._write(room.code, _encode(room, hashlib.sha256(key.encode()).hexdigest()))
        return room, key

    def room(self, code: str) -> Room:
        """The class with ``code``; a RoomError if there is none or it cannot be read."""
        return self._current(normal_code(code))[0]

    def is_teacher(self, code: str, key: str | None) -> bool:
        """Whether ``key`` is the class's teacher key (its hash compared in constant time)."""
        return _key_matches(key, self._current(normal_code(code))[1])

    def move(self, code: str, key: str | None, step: int) -> Room:
        """Move everyone to ``step`` (0-based); a step revealed before stays revealed."""
        def change(room: Room, key_sha256: str) -> Room | None:
            _require_teacher(key, key_sha256, "move the class")
            _require_running(room)
            if not _is_int(step) or not 0 <= step < room.steps:
                raise RoomError(f"This lesson has {room.steps} steps; there is no such step "
                                "to move to.")
            return None if step == room.step else replace(room, step=step)
        return self._change(code, change)

    def reveal(self, code: str, key: str | None) -> Room:
        """Show the answers of the current step; from then on it takes no answer."""
        def change(room: Room, key_sha256: str) -> Room | None:
            _require_teacher(key, key_sha256, "reveal the answers")
            _require_running(room)
            return None if room.revealed else replace(
                room, revealed_steps=room.revealed_steps | {room.step})
        return self._change(code, change)

    def end(self, code: str, key: str | None) -> Room:
        """End the class: it takes no more answers and no longer counts against the limit."""
        def change(room: Room, key_sha256: str) -> Room | None:
            _require_teacher(key, key_sha256, "end the class")
            return None if room.ended else replace(room, ended=True)
        return self._change(code, change)

    def join(self, code: str, student: str) -> Room:
        """Count ``student`` as present; joining again changes nothing."""
        _check_student(student)

        def change(room: Room, _: str) -> Room | None:
            _require_running(room)
            if student in room.students:
                return None
            return _with_student(room, student, self.max_students)
        return self._change(code, change)

    def answer(self, code: str, student: str, step: int, choice: int, choices: int) -> Room:
        """Record ``choice`` (0-based, of ``choices``) for the current ``step``, before its
        reveal; a second answer replaces the first. The student joins if not yet present."""
        _check_student(student)
        if not _is_int(choices) or not 1 <= choices <= MAX_CHOICES:
            raise RoomError("This step has no question to answer.")

        def change(room: Room, _: str) -> Room | None:
            _require_running(room)
            if not _is_int(step) or step != room.step:
                raise RoomError("The class has moved on; answer the question on the screen.")
            if room.revealed:
                raise RoomError("The answers to this question have been shown; it takes no "
                                "more answers.")
            if not _is_int(choice) or not 0 <= choice < choices:
                raise RoomError(f"Pick one of the {choices} answers.")
            if room.answers.get(step, {}).get(student) == choice:
                return None
            answers = {s: dict(by_student) for s, by_student in room.answers.items()}
            answers.setdefault(step, {})[student] = choice
            room = _with_student(room, student, self.max_students)
            return replace(room, answers=_frozen(answers))
        return self._change(code, change)

    def answers_csv(self, code: str, key: str | None) -> str:
        """``step, student, choice`` (0-based step and choice, random ids), one row an answer."""
        room, key_sha256 = self._current(normal_code(code))
        _require_teacher(key, key_sha256, "download the answers")
        return answers_table(room)

    def _change(self, code: str, change: Callable[[Room, str], Room | None]) -> Room:
        code = normal_code(code)
        with self._lock:
            room, key_sha256 = self._current(code)
            changed = change(room, key_sha256)
            if changed is None:
                return room
            changed = replace(changed, last_active=self.clock())
            self._write(code, _encode(changed, key_sha256))
            return changed

    def _current(self, code: str) -> tuple[Room, str]:
        room, key_sha256 = self._read(code)
        if self.clock() - room.last_active > IDLE_SECONDS:
            with self._lock:  # re-read: a change may have come in since
                room, key_sha256 = self._read(code)
                if self.clock() - room.last_active > IDLE_SECONDS:
                    self._remove(code)
                    raise _no_class(code)
        return room, key_sha256

    def _read(self, code: str) -> tuple[Room, str]:
        try:
            with (self.directory / f"{code}.json").open("rb") as file:
                status = os.fstat(file.fileno())
                identity = (status.st_ino, status.st_mtime_ns, status.st_size)
                cached = self._cache.get(code)
                if cached is None or cached[0] != identity:
                    cached = (identity, *_parse(code, file.read()))
                    self._cache[code] = cached
        except FileNotFoundError:
            self._cache.pop(code, None)
            raise _no_class(code) from None
        except OSError as error:
            log.warning("rooms: cannot read the file of class %s: %s", code, error)
            raise RoomError(f"The class {code} cannot be read on the server right now; try "
                            "again in a moment.") from None
        if cached[1] is None:
            raise _damaged(code)
        return cached[1], cached[2]

    def _sweep(self, now: float) -> int:
        """Remove idle rooms, ended rooms beyond the newest `max_rooms` and leftovers of
        killed writers; returns how many rooms are running."""
        running, ended = 0, []
        _sweep_temporary(self.directory)
        paths = list(self.directory.glob("*.json")) if self.directory.is_dir() else []
        for path in paths:
            if not _CODE.fullmatch(path.stem):
                continue
            try:
                room = self._read(path.stem)[0]
                last_active, is_ended = room.last_active, room.ended
            except RoomError:
                # A damaged room keeps its place until its file is idle, so its students keep
                # reading the same message rather than "no such class".
                try:
                    last_active, is_ended = path.stat().st_mtime, False
                except OSError:
                    continue
            if now - last_active > IDLE_SECONDS:
                self._remove(path.stem)
            elif is_ended:
                ended.append((last_active, path.stem))
            else:
                running += 1
        for _, code in sorted(ended, reverse=True)[self.max_rooms:]:
            self._remove(code)
        return running

    def _remove(self, code: str) -> None:
        self._cache.pop(code, None)
        with contextlib.suppress(OSError):
            (self.directory / f"{code}.json").unlink()

    def _write(self, code: str, content: bytes) -> None:
        try:
            _write_atomically(self.directory, code, content)
        finally:
            self._cache.pop(code, None)
