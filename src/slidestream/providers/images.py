"""Image-search providers with licences: ``openverse``, ``wikimedia``, ``pexels``, ``unsplash``.

::

    from slidestream.providers.images import OpenverseImages, PexelsImages

    images = OpenverseImages()                 # no key needed
    photos = PexelsImages(api_key="...")       # or PEXELS_API_KEY in the environment

Every provider returns :class:`~slidestream.ImageAsset` values with the image's source page,
attribution and licence, and downloads images safely (see :class:`DownloadPolicy`).
"""

from ._download import DownloadPolicy as DownloadPolicy
from ._download import UnsafeURLError as UnsafeURLError
from ._download import check_url as check_url
from ._image_search import ImageCandidate as ImageCandidate
from ._image_search import SearchImageProvider as SearchImageProvider
from ._openverse import OpenverseImages as OpenverseImages
from ._pexels import PexelsImages as PexelsImages
from ._unsplash import UnsplashImages as UnsplashImages
from ._wikimedia import WikimediaImages as WikimediaImages

__all__ = [
    "DownloadPolicy",
    "ImageCandidate",
    "OpenverseImages",
    "PexelsImages",
    "SearchImageProvider",
    "UnsafeURLError",
    "UnsplashImages",
    "WikimediaImages",
    "check_url",
]
