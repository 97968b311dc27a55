"""The live class's room store: what a teacher and the students would notice, across
restarts, idle hours, limits, bad links, damaged files and many answers at once."""

import csv
import errno
import io
import threading
import time

import pytest

from bnviz import rooms
from bnviz.rooms import (
    CODE_ALPHABET,
    IDLE_SECONDS,
    FileRoomStore,
    RoomError,
    RoomStore,
    new_student_id,
)

LESSON, STEPS, CHOICES = "bn-basics", 4, 3


class FakeClock:
    """The store's clock, moved by the test: hours pass without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()  # file times are real: a damaged room ages by its file

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock) -> FileRoomStore:
    return FileRoomStore(tmp_path / "rooms", clock)


@pytest.fixture
def opened(store):
    room, key = store.open_room(LESSON, STEPS)
    return room.code, key


def test_a_new_room_starts_at_the_first_step_with_a_short_unambiguous_code(store, clock):
    room, key = store.open_room(LESSON, STEPS)
    assert isinstance(store, RoomStore)
    assert 4 <= len(room.code) <= 6 and set(room.code) <= set(CODE_ALPHABET)
    assert not set(room.code) & set("0O1IL")
    assert (room.lesson, room.steps, room.step, room.revealed, room.ended) == (
        LESSON, STEPS, 0, False, False)
    assert room.created == room.last_active == clock.now
    assert len(key) >= 20 and store.room(room.code) == room


def test_several_students_answer_and_the_tally_counts_them_exactly(store, opened):
    code, _ = opened
    picks = {"alice001": 0, "bob00002": 2, "carol003": 2, "dave0004": 1, "erin0005": 2}
    for student, choice in picks.items():
        store.join(code, student)
        store.answer(code, student, 0, choice, CHOICES)
    room = store.room(code)
    assert room.tally(0, CHOICES) == [1, 1, 3]
    assert room.answered(0) == 5 and room.present == 5
    assert room.answered(1) == 0 and room.tally(1, CHOICES) == [0, 0, 0]


def test_changing_an_answer_before_the_reveal_replaces_it_and_after_is_refused(store, opened):
    code, key = opened
    store.answer(code, "alice001", 0, 0, CHOICES)
    store.answer(code, "alice001", 0, 2, CHOICES)
    assert store.room(code).tally(0, CHOICES) == [0, 0, 1]
    assert store.reveal(code, key).revealed
    with pytest.raises(RoomError, match="have been shown"):
        store.answer(code, "alice001", 0, 1, CHOICES)
    with pytest.raises(RoomError, match="have been shown"):
        store.answer(code, "newcomer", 0, 1, CHOICES)
    assert store.room(code).tally(0, CHOICES) == [0, 0, 1]


def test_a_revealed_step_stays_revealed_when_the_teacher_comes_back_to_it(store, opened):
    code, key = opened
    store.reveal(code, key)
    room = store.move(code, key, 1)
    assert (room.step, room.revealed) == (1, False)
    assert store.move(code, key, 0).revealed
    with pytest.raises(RoomError, match="have been shown"):
        store.answer(code, "alice001", 0, 1, CHOICES)


def test_answers_to_another_step_or_outside_the_choices_are_refused(store, opened):
    code, key = opened
    for step in (1, -1, "0", None, True):
        with pytest.raises(RoomError, match="moved on"):
            store.answer(code, "alice001", step, 0, CHOICES)
    for choice in (-1, CHOICES, 2.0, "1", None, True):
        with pytest.raises(RoomError, match=f"one of the {CHOICES} answers"):
            store.answer(code, "alice001", 0, choice, CHOICES)
    store.move(code, key, 1)
    with pytest.raises(RoomError, match="moved on"):
        store.answer(code, "alice001", 0, 0, CHOICES)
    for choices in (0, 27, None):
        with pytest.raises(RoomError, match="no question"):
            store.answer(code, "alice001", 1, 0, choices)
    assert store.room(code).answers == {}


def test_the_teacher_moves_everyone_within_the_lessons_steps(store, opened):
    code, key = opened
    assert store.move(code, key, STEPS - 1).step == STEPS - 1
    for step in (STEPS, -1, "2", None):
        with pytest.raises(RoomError, match=f"has {STEPS} steps"):
            store.move(code, key, step)
    assert store.room(code).step == STEPS - 1


def test_only_the_teachers_key_moves_reveals_ends_or_downloads(store, opened):
    code, key = opened
    other, other_key = store.open_room(LESSON, STEPS)
    store.answer(code, "alice001", 0, 1, CHOICES)
    for wrong in (None, "", key[:-1], key + "x", key.upper(), other_key, "é" * 10, "k" * 5000):
        assert not store.is_teacher(code, wrong)
        with pytest.raises(RoomError, match="Only the teacher's link can move the class"):
            store.move(code, wrong, 1)
        with pytest.raises(RoomError, match="Only the teacher's link can reveal"):
            store.reveal(code, wrong)
        with pytest.raises(RoomError, match="Only the teacher's link can end"):
            store.end(code, wrong)
        with pytest.raises(RoomError, match="Only the teacher's link can download"):
            store.answers_csv(code, wrong)
    room = store.room(code)
    assert (room.step, room.revealed, room.ended) == (0, False, False)
    assert store.is_teacher(code, key) and not store.is_teacher(other.code, key)


def test_the_room_file_keeps_a_hash_of_the_key_never_the_key(store, opened, tmp_path):
    code, key = opened
    store.answer(code, "alice001", 0, 1, CHOICES)
    files = list((tmp_path / "rooms").iterdir())
    assert [path.name for path in files] == [f"{code}.json"]
    text = files[0].read_text()
    assert key not in text
    assert rooms.hashlib.sha256(key.encode()).hexdigest() in text


def test_a_restart_finds_the_room_at_its_step_with_its_reveal_and_answers(tmp_path, clock):
    before = FileRoomStore(tmp_path / "rooms", clock)
    room, key = before.open_room(LESSON, STEPS)
    before.answer(room.code, "alice001", 0, 2, CHOICES)
    before.reveal(room.code, key)
    before.move(room.code, key, 1)
    before.answer(room.code, "bob00002", 1, 0, CHOICES)

    after = FileRoomStore(tmp_path / "rooms", clock)
    again = after.room(room.code)
    assert again == before.room(room.code)
    assert (again.step, again.revealed, again.revealed_steps) == (1, False, {0})
    assert again.answers == {0: {"alice001": 2}, 1: {"bob00002": 0}}
    assert again.students == {"alice001", "bob00002"}
    assert after.is_teacher(room.code, key)
    after.reveal(room.code, key)
    assert before.room(room.code).revealed  # the first store reads the second's change


def test_idle_rooms_go_after_12_hours_and_free_their_place(tmp_path, clock):
    store = FileRoomStore(tmp_path / "rooms", clock, max_rooms=2)
    quiet = store.open_room(LESSON, STEPS)[0].code
    busy = store.open_room(LESSON, STEPS)[0].code
    with pytest.raises(RoomError, match="already runs 2 classes"):
        store.open_room(LESSON, STEPS)
    clock.now += IDLE_SECONDS - 60
    store.join(busy, "alice001")  # activity keeps a room
    clock.now += 120
    with pytest.raises(RoomError, match=f"no class with the code {quiet}"):
        store.room(quiet)
    assert not (tmp_path / "rooms" / f"{quiet}.json").exists()
    assert store.room(busy).present == 1
    store.open_room(LESSON, STEPS)  # the idle one's place
    clock.now += IDLE_SECONDS + 1
    store.open_room(LESSON, STEPS)
    assert len(list((tmp_path / "rooms").glob("*.json"))) == 1


def test_a_full_server_says_so_in_plain_words_until_a_class_ends(store):
    codes = {store.open_room(LESSON, STEPS)[0].code for _ in range(rooms.MAX_ROOMS)}
    assert len(codes) == rooms.MAX_ROOMS == 50  # every code different
    with pytest.raises(RoomError) as refused:
        store.open_room(LESSON, STEPS)
    assert str(refused.value) == ("This server already runs 50 classes, its limit; try again "
                                  "later or ask the teacher to end an old one.")


def test_an_ended_class_frees_its_place_and_keeps_its_answers_for_the_teacher(tmp_path, clock):
    store = FileRoomStore(tmp_path / "rooms", clock, max_rooms=1)
    room, key = store.open_room(LESSON, STEPS)
    store.answer(room.code, "alice001", 0, 1, CHOICES)
    assert store.end(room.code, key).ended
    with pytest.raises(RoomError, match="has ended"):
        store.answer(room.code, "alice001", 0, 2, CHOICES)
    with pytest.raises(RoomError, match="has ended"):
        store.join(room.code, "bob00002")
    with pytest.raises(RoomError, match="has ended"):
        store.move(room.code, key, 1)
    store.open_room(LESSON, STEPS)
    assert store.room(room.code).ended
    assert store.answers_csv(room.code, key).splitlines()[1] == "0,alice001,1"


def test_a_full_class_says_so_and_keeps_its_students(tmp_path, clock):
    store = FileRoomStore(tmp_path / "rooms", clock, max_students=3)
    code = store.open_room(LESSON, STEPS)[0].code
    for student in ("alice001", "bob00002", "carol003"):
        store.join(code, student)
    store.join(code, "alice001")  # a reload of a student already in
    store.answer(code, "carol003", 0, 0, CHOICES)
    for late in (store.join, lambda code, student: store.answer(code, student, 0, 0, CHOICES)):
        with pytest.raises(RoomError, match="already has 3 students, its limit; ask your "
                                            "teacher to start a second class"):
            late(code, "dave0004")
    assert store.room(code).students == {"alice001", "bob00002", "carol003"}
    assert rooms.MAX_STUDENTS == 300 and FileRoomStore(tmp_path).max_students == 300


def test_malformed_codes_get_a_message_and_a_lowercase_code_works(store, opened, tmp_path):
    code, key = opened
    for bad in ("../x", "", "   ", "A" * 100, f"{code}/..", "K0O1", None, 1234):
        with pytest.raises(RoomError, match="not a class code"):
            store.room(bad)
        with pytest.raises(RoomError, match="not a class code"):
            store.answer(bad, "alice001", 0, 0, CHOICES)
    assert store.room(f"  {code.lower()}\n").code == code
    store.answer(code.lower(), "alice001", 0, 1, CHOICES)
    assert store.is_teacher(f" {code.lower()} ", key)
    unknown = next(c * 4 for c in CODE_ALPHABET if c * 4 != code)
    with pytest.raises(RoomError, match=f"There is no class with the code {unknown}; check"):
        store.room(unknown)
    assert {path.name for path in tmp_path.iterdir()} - {"cache"} == {"rooms"}


def test_bad_lesson_names_student_ids_and_step_counts_are_refused(store, opened):
    code, _ = opened
    for lesson in ("", "../etc", "a b", "x" * 65, None):
        with pytest.raises(RoomError, match="not the name of a lesson"):
            store.open_room(lesson, STEPS)
    for steps in (0, -1, 101, "3", None):
        with pytest.raises(RoomError, match="1 to 100 steps"):
            store.open_room(LESSON, steps)
    for student in ("", "abc", "a b c d", "-formula", "x" * 33, None):
        with pytest.raises(RoomError, match="student id is not valid"):
            store.join(code, student)
    assert store.join(code, new_student_id()).present == 1


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[]",
                                     b'{"version": 1, "step": "x"}'])
def test_a_damaged_room_file_is_a_plain_message(store, opened, tmp_path, content, caplog):
    code, key = opened
    (tmp_path / "rooms" / f"{code}.json").write_bytes(content)
    for read in (lambda: store.room(code), lambda: store.answer(code, "alice001", 0, 0, 3),
                 lambda: store.move(code, key, 1), lambda: store.is_teacher(code, key)):
        with pytest.raises(RoomError, match=f"The class {code} cannot be read on the server"):
            read()
    assert "damaged" in caplog.text
    store.open_room(LESSON, STEPS)  # other classes open as before, the damaged one stays
    with pytest.raises(RoomError, match="damaged"):
        store.room(code)


def test_a_field_out_of_range_in_the_file_is_damage_not_a_crash(store, opened, tmp_path):
    code, _ = opened
    path = tmp_path / "rooms" / f"{code}.json"
    path.write_text(path.read_text().replace('"step":0', '"step":7'))
    with pytest.raises(RoomError, match="damaged"):
        store.room(code)


def test_a_full_disk_refuses_the_answer_and_keeps_the_class_as_it_was(store, opened,
                                                                      tmp_path, monkeypatch):
    code, _ = opened
    store.answer(code, "alice001", 0, 1, CHOICES)

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rooms.os, "fsync", full)
    with pytest.raises(RoomError, match=r"could not be saved on the server \(No space left"):
        store.answer(code, "bob00002", 0, 2, CHOICES)
    with pytest.raises(RoomError, match="could not be saved"):
        store.open_room(LESSON, STEPS)
    monkeypatch.undo()
    assert store.room(code).answers == {0: {"alice001": 1}}
    assert [path.name for path in (tmp_path / "rooms").iterdir()] == [f"{code}.json"]


def test_thirty_students_answering_at_once_lose_no_answer(tmp_path, clock):
    code = FileRoomStore(tmp_path / "rooms", clock).open_room(LESSON, STEPS)[0].code
    # Each student's session with a store of its own, as after a restart, on one folder.
    stores = [FileRoomStore(tmp_path / "rooms", clock) for _ in range(3)]
    start = threading.Barrier(30)
    failures: list[BaseException] = []

    def answer(number: int) -> None:
        start.wait()
        try:
            stores[number % 3].answer(code, f"student{number:02d}", 0, number % CHOICES,
                                      CHOICES)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert FileRoomStore(tmp_path / "rooms", clock).room(code).tally(0, CHOICES) == [10, 10, 10]


def test_the_csv_has_one_row_per_answer_with_ids_and_no_key(store, opened):
    code, key = opened
    ids = [new_student_id() for _ in range(4)]
    for number, student in enumerate(ids):
        store.answer(code, student, 0, number % CHOICES, CHOICES)
    store.answer(code, ids[0], 0, 2, CHOICES)  # changed: still one row
    store.join(code, "lurker01")  # present, never answered: no row
    store.move(code, key, 2)
    store.answer(code, ids[1], 2, 1, CHOICES)
    text = store.answers_csv(code, key)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["step", "student", "choice"] and len(rows) == 5
    assert sorted((row["step"], row["student"], row["choice"]) for row in rows) == sorted(
        [("0", ids[0], "2"), ("0", ids[1], "1"), ("0", ids[2], "2"), ("0", ids[3], "0"),
         ("2", ids[1], "1")])
    assert key not in text and "lurker01" not in text
