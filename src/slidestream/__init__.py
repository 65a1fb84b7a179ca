"""slidestream: turn a topic or a Markdown outline into a narrated presentation, slide by slide.

The :class:`StreamingPipeline` yields each slide the moment it is complete and starts each
slide's image and narration work as soon as its script exists.
"""

from ._batch import BatchEvent as BatchEvent
from ._batch import BatchEventKind as BatchEventKind
from ._batch import BatchItemResult as BatchItemResult
from ._batch import FilesMode as FilesMode
from ._batch import batch as batch
from ._context import current_slide_index as current_slide_index
from ._events import AudioReady as AudioReady
from ._events import DeckReady as DeckReady
from ._events import Event as Event
from ._events import ImagesReady as ImagesReady
from ._events import OutlineReady as OutlineReady
from ._events import SlideScripted as SlideScripted
from ._exceptions import ConfigurationError as ConfigurationError
from ._exceptions import InvalidInputError as InvalidInputError
from ._exceptions import OutputError as OutputError
from ._exceptions import ProjectBusyError as ProjectBusyError
from ._exceptions import ProviderError as ProviderError
from ._exceptions import ProviderNotFoundError as ProviderNotFoundError
from ._exceptions import ProviderRateLimitError as ProviderRateLimitError
from ._exceptions import ProviderResponseError as ProviderResponseError
from ._exceptions import ProviderTimeoutError as ProviderTimeoutError
from ._exceptions import RenderError as RenderError
from ._exceptions import SlidestreamError as SlidestreamError
from ._limits import ConcurrencyLimits as ConcurrencyLimits
from ._limits import DaskLeases as DaskLeases
from ._limits import LimitChanged as LimitChanged
from ._limits import Limits as Limits
from ._limits import LimitStatistics as LimitStatistics
from ._limits import ServiceKey as ServiceKey
from ._limits import member_slot as member_slot
from ._limits import report_throttled as report_throttled
from ._limits import sleep_without_slot as sleep_without_slot
from ._models import DeckRequest as DeckRequest
from ._models import DeckResult as DeckResult
from ._models import ImageAsset as ImageAsset
from ._models import Outline as Outline
from ._models import OutlineItem as OutlineItem
from ._models import SlideError as SlideError
from ._models import SlideResult as SlideResult
from ._models import SlideScript as SlideScript
from ._models import SpeechClip as SpeechClip
from ._models import StageSpan as StageSpan
from ._models import WordTiming as WordTiming
from ._pipeline import SequentialPipeline as SequentialPipeline
from ._pipeline import StreamingPipeline as StreamingPipeline
from ._run_error import PipelineError as PipelineError
from ._stream import DeckEventStream as DeckEventStream
from ._timeouts import Timeouts as Timeouts
from ._version import __version__ as __version__
from .providers import ImageProvider as ImageProvider
from .providers import ScriptProvider as ScriptProvider
from .providers import TTSProvider as TTSProvider
from .render import RenderOptions as RenderOptions

__all__ = [
    "AudioReady",
    "BatchEvent",
    "BatchEventKind",
    "BatchItemResult",
    "ConcurrencyLimits",
    "ConfigurationError",
    "DaskLeases",
    "DeckEventStream",
    "DeckReady",
    "DeckRequest",
    "DeckResult",
    "Event",
    "FilesMode",
    "ImageAsset",
    "ImageProvider",
    "ImagesReady",
    "InvalidInputError",
    "LimitChanged",
    "LimitStatistics",
    "Limits",
    "Outline",
    "OutlineItem",
    "OutlineReady",
    "OutputError",
    "PipelineError",
    "ProjectBusyError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderRateLimitError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "RenderError",
    "RenderOptions",
    "ScriptProvider",
    "SequentialPipeline",
    "ServiceKey",
    "SlideError",
    "SlideResult",
    "SlideScript",
    "SlideScripted",
    "SlidestreamError",
    "SpeechClip",
    "StageSpan",
    "StreamingPipeline",
    "TTSProvider",
    "Timeouts",
    "WordTiming",
    "__version__",
    "batch",
    "current_slide_index",
    "member_slot",
    "report_throttled",
    "sleep_without_slot",
]
