"""The run engine: stages over a run context, schedules over the stages, and the books.

- :mod:`.context`: what one run knows (request, folder, providers, limits, clock, one record
  per slide, the event sink) and :meth:`RunContext.slot`, the one place limits are taken;
- :mod:`.stages`: write the outline and scripts, find images, synthesise, complete a slide;
- :mod:`.schedules`: :class:`StreamingSchedule` and the :class:`SequentialSchedule` baseline;
- :mod:`.policy`: which errors stop the run and which become a slide's error;
- :mod:`.books`: the manifest and the finished :class:`DeckResult`;
- :mod:`.assets`: saving a slide's images and narration clip;
- :mod:`.run`: one run from start to finish.
"""

from .context import Providers as Providers
from .context import aclose_all as aclose_all
from .run import run_deck as run_deck
from .schedules import RunMode as RunMode
from .schedules import Schedule as Schedule
from .schedules import SequentialSchedule as SequentialSchedule
from .schedules import StreamingSchedule as StreamingSchedule

__all__ = [
    "Providers",
    "RunMode",
    "Schedule",
    "SequentialSchedule",
    "StreamingSchedule",
    "aclose_all",
    "run_deck",
]
