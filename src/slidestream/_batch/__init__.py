"""Many decks at once: :func:`batch`, in this process or on a Dask cluster.

The parts, one job each:

- ``_inputs``: topics, outlines, topic files and folders become one deck each, with a folder
  name;
- ``_providers``: each deck's providers, made from names or factories;
- ``_deck``: one deck's job and how it runs under the batch's :class:`~slidestream.Limits`
  (on a cluster, with :class:`~slidestream.DaskLeases`); ``_folders``: staging, the final
  move, archives;
- ``_local``: every deck in this process; ``_dask`` and ``_dask_worker``: on a Dask cluster;
- ``_api``: :func:`batch`; ``_display``: the command line's progress and summary.
"""

from ._api import batch as batch
from ._models import BatchEvent as BatchEvent
from ._models import BatchEventKind as BatchEventKind
from ._models import BatchItemResult as BatchItemResult
from ._models import FilesMode as FilesMode

__all__ = ["BatchEvent", "BatchEventKind", "BatchItemResult", "FilesMode", "batch"]
