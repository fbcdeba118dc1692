"""What a letter template may see: plain data, nothing that reads the machine.

A template comes with the campaign, perhaps from the government it targets. If it
could reach the clock, the time zone, the environment, the file system or the
process, it could write the sender's UTC offset into the letter (as trailing spaces
or zero-width characters). ``datetime.date`` offers ``today()`` and
``fromtimestamp()``, which use the local clock and zone, so ``today`` is a
:class:`Today` instead; and the sandbox lets a template read attributes only of the
plain types listed in :data:`ATTRIBUTE_OWNERS`, so no value it meets, now or after a
Jinja2 upgrade, can hand it such a method.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jinja2.environment import TemplateModule
from jinja2.runtime import BlockReference, LoopContext, Macro, TemplateReference
from jinja2.utils import Cycler, Joiner, Namespace

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True, slots=True)
class Today:
    """The date a letter is written (in UTC), as numbers and text, with no way to the clock.

    ``{{ today }}`` is ``2011-09-21``; ``today.long`` is ``21 September 2011`` in every
    locale; ``today.isoformat()`` is kept for letters written for ``datetime.date``.
    """

    year: int
    month: int
    day: int

    @classmethod
    def of(cls, day: date) -> Today:
        return cls(year=day.year, month=day.month, day=day.day)

    @property
    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def long(self) -> str:
        return f"{self.day} {_MONTHS[self.month - 1]} {self.year}"

    def isoformat(self) -> str:
        return self.iso

    def __str__(self) -> str:
        return self.iso


TODAY_ATTRIBUTES = frozenset({"year", "month", "day", "iso", "long", "isoformat"})

ATTRIBUTE_OWNERS: tuple[type, ...] = (
    str,
    int,
    float,
    dict,
    list,
    tuple,
    range,
    # Jinja2's own template-side objects: loop.index, cycler.next(), ns.total,
    # self.block(), caller(), an imported letter's macros.
    LoopContext,
    Cycler,
    Joiner,
    Namespace,
    Macro,
    TemplateReference,
    BlockReference,
    TemplateModule,
)
"""The only types whose attributes a template may read (bool is an int)."""


def attribute_allowed(obj: object, attr: str) -> bool:
    """Whether a template may read ``obj.attr``; the sandbox's own rules apply as well."""
    if isinstance(obj, Today):
        return attr in TODAY_ATTRIBUTES
    return isinstance(obj, ATTRIBUTE_OWNERS)
