"""Image providers: search services with licences, and two that work offline.

- :mod:`~slidestream.providers.images.openverse` (``openverse``), :mod:`.wikimedia`
  (``wikimedia``), :mod:`.pexels` (``pexels``) and :mod:`.unsplash` (``unsplash``): search
  services, built on :mod:`.search`;
- :mod:`.generated` (``generated``): an illustration drawn for each slide;
- :mod:`.local` (``local``): pictures from a folder, matched by file name.

::

    from slidestream.providers.images import OpenverseImages, PexelsImages

    images = OpenverseImages()                 # no key needed
    photos = PexelsImages(api_key="...")       # or PEXELS_API_KEY in the environment

Every search provider returns :class:`~slidestream.ImageAsset` values with the image's source
page, attribution and licence, and downloads images safely (see :class:`DownloadPolicy`).
"""

from .._common.download import DownloadPolicy as DownloadPolicy
from .._common.download import UnsafeURLError as UnsafeURLError
from .._common.download import check_url as check_url
from .generated import GeneratedImageProvider as GeneratedImageProvider
from .local import LocalImageProvider as LocalImageProvider
from .openverse import OpenverseImages as OpenverseImages
from .pexels import PexelsImages as PexelsImages
from .search import ImageCandidate as ImageCandidate
from .search import SearchImageProvider as SearchImageProvider
from .unsplash import UnsplashImages as UnsplashImages
from .wikimedia import WikimediaImages as WikimediaImages

__all__ = [
    "DownloadPolicy",
    "GeneratedImageProvider",
    "ImageCandidate",
    "LocalImageProvider",
    "OpenverseImages",
    "PexelsImages",
    "SearchImageProvider",
    "UnsafeURLError",
    "UnsplashImages",
    "WikimediaImages",
    "check_url",
]
