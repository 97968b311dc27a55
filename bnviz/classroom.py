"""A lesson on the page: what a link asks of it, and where the visitor stands in it.

Three ways to use a lesson (`bnviz.lessons`):

* a link with hidden controls, ``hide=batch_size,seed``: those settings leave the sidebar and
  keep the link's values (TensorFlow Playground's ``<control>_hide``);
* self-paced, ``lesson=NAME&step=N``: Back and Next in the visitor's own hands; a question's
  result stays hidden until it is answered;
* a live class: ``lesson=NAME&teach=1`` opens a room (`bnviz.rooms`) and sends the teacher to
  the teacher's link, ``room=CODE&key=KEY``; students open ``room=CODE`` and see the step the
  teacher is on, its result once the teacher reveals it.

Inside a lesson only the settings a step lets the student change (`bnviz.lessons.Step.editable`)
can be changed, from the sidebar or from the link; every other setting is the step's. No
Streamlit here: ``ui/lesson.py`` draws what `place` decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bnviz.config import ExperimentConfig, field_names
from bnviz.lessons import Lesson, LessonError, Step, lesson
from bnviz.rooms import Room, RoomError, RoomStore

LESSON_PARAM, STEP_PARAM, TEACH_PARAM = "lesson", "step", "teach"
ROOM_PARAM, KEY_PARAM, HIDE_PARAM = "room", "key", "hide"
# A student's random id in the student's own link, so that reloading the page is the same
# student (and the same answer), not a second one.
ME_PARAM = "me"
# The link parameters of lessons and classes: not settings of the experiment.
PARAMS = (LESSON_PARAM, STEP_PARAM, TEACH_PARAM, ROOM_PARAM, KEY_PARAM, HIDE_PARAM, ME_PARAM)


@dataclass(frozen=True)
class LessonLink:
    """What a link asks of lessons, as given (checked by `place` and `hidden_fields`)."""

    lesson: str | None = None
    step: str | None = None
    teach: bool = False
    room: str | None = None
    key: str | None = None
    hide: tuple[str, ...] = ()
    me: str | None = None

    @property
    def asks(self) -> bool:
        """Whether the link asks for a lesson or a class at all."""
        return self.lesson is not None or self.room is not None


class Role(StrEnum):
    """Who the visitor is in the lesson."""

    SELF_PACED = "self-paced"  # on their own, Back and Next theirs
    TEACHER = "teacher"  # holds the room's key: moves, reveals and ends the class
    STUDENT = "student"  # follows the room's step


@dataclass(frozen=True)
class Place:
    """Where a visitor stands: the lesson, the step (from 0), who they are, and the room of a
    live class."""

    lesson: Lesson
    index: int
    role: Role
    room: Room | None = None

    @property
    def step(self) -> Step:
        """The step shown."""
        return self.lesson.steps[self.index]

    @property
    def number(self) -> int:
        """The step's number, from 1, as links and the page count."""
        return self.index + 1

    @property
    def is_last(self) -> bool:
        """Whether this is the lesson's last step."""
        return self.index == len(self.lesson.steps) - 1

    @property
    def hidden(self) -> tuple[str, ...]:
        """The settings this step keeps out of the sidebar (and the link's reach)."""
        return tuple(name for name in field_names() if name not in self.step.editable)

    def config(self, asked: ExperimentConfig, given: frozenset[str],
               written_for: str | None = None) -> ExperimentConfig:
        """The configuration shown: the step's own, with the visitor's values (``asked``, of
        which the link or the sidebar gave the fields ``given``) for the settings the step
        lets them change. Anything else the link says is not heard inside a lesson. In a
        class the link's settings count only for the step they were written at
        (``written_for``, the link's ``step``): the teacher's move leaves them behind."""
        own = self.step.config()
        if self.room is not None and written_for != str(self.number):
            return own
        changes = {name: getattr(asked, name) for name in self.step.editable
                   if name in given and getattr(asked, name) != getattr(own, name)}
        try:
            return own.replace(**changes)
        except ValueError:  # a change the others make too large (the work cap): the step's
            return own

    def revealed(self, answered: bool) -> bool:
        """Whether the step's result may be shown: a step without a question always; in a
        class once the teacher revealed it; self-paced once the visitor answered."""
        if self.step.question is None:
            return True
        if self.room is not None:
            return self.room.revealed
        return answered


def read_step(text: str | None, steps: int) -> tuple[int, str | None]:
    """The step a link's ``step`` names, from 0, and what was wrong with it (then step 1)."""
    if text is None or not text.strip():
        return 0, None
    try:
        number = int(text.strip())
    except ValueError:
        return 0, "is not a step number; showing step 1"
    if not 1 <= number <= steps:
        return 0, f"is not a step of this lesson (1 to {steps}); showing step 1"
    return number - 1, None


def place(link: LessonLink, rooms: RoomStore) -> tuple[Place | None, list[str]]:
    """Where a visitor with this link stands, and what the page must tell them (a bad lesson
    name, room code or step: plain messages; the page then shows as usual). A teacher's
    ``teach=1`` link is not placed here: `open_class` opens its room first."""
    problems: list[str] = []
    if link.room is not None:
        try:
            room = rooms.room(link.room)
            taught = lesson(room.lesson)
        except (RoomError, LessonError) as error:
            return None, [str(error)]
        if room.ended:
            return None, [f"The class {room.code} has ended; the page shows as usual."]
        role = Role.TEACHER if rooms.is_teacher(room.code, link.key) else Role.STUDENT
        if link.key and role is Role.STUDENT:
            problems.append("This link's teacher's key is not this class's: you follow the "
                            "class as a student.")
        index = min(room.step, len(taught.steps) - 1)
        return Place(taught, index, role, room), problems
    if link.lesson is None:
        return None, problems
    try:
        taught = lesson(link.lesson)
    except LessonError as error:
        return None, [f"{error}. The page shows as usual."]
    index, problem = read_step(link.step, len(taught.steps))
    if problem:
        problems.append(f"Link parameter step {problem}.")
    return Place(taught, index, Role.SELF_PACED), problems


def hidden_fields(link: LessonLink) -> tuple[tuple[str, ...], list[str]]:
    """The settings a ``hide=`` link keeps out of the sidebar, and the names it gave that are
    no setting (ignored)."""
    known = [name for name in link.hide if name in field_names()]
    unknown = [name for name in link.hide if name not in field_names()]
    return tuple(dict.fromkeys(known)), unknown
