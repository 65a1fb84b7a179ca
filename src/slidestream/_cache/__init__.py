"""The content-addressed cache: nothing expensive is made twice.

- :mod:`.keys`: a key is the SHA-256 of the canonical JSON of every input that changes an
  output; code versions are digests of source files;
- :mod:`.store`: one JSON entry per key with checksummed blobs beside it, written by rename;
- :mod:`.eviction`: usage, least-recently-used pruning to a size cap, clearing;
- :mod:`.location`: the default folder (``$SLIDESTREAM_CACHE_DIR``, else platformdirs) and sizes;
- :mod:`.identity`: which provider made an answer (``cache_identity()``);
- :mod:`.run`: one run's lookups and writes, and the record of what was reused;
- :mod:`.answers`: the providers' answers (outline, scripts, images, narration clips).
"""

from .answers import CachedClip as CachedClip
from .answers import ProviderAnswers as ProviderAnswers
from .eviction import CacheUsage as CacheUsage
from .eviction import Pruned as Pruned
from .eviction import clear as clear
from .eviction import prune as prune
from .eviction import usage as usage
from .identity import SupportsCacheIdentity as SupportsCacheIdentity
from .identity import provider_identity as provider_identity
from .keys import canonical_json as canonical_json
from .keys import code_version as code_version
from .keys import digest as digest
from .keys import make_key as make_key
from .location import USER_CACHE_DIR as USER_CACHE_DIR
from .location import UserCacheDir as UserCacheDir
from .location import default_cache_dir as default_cache_dir
from .location import default_max_bytes as default_max_bytes
from .location import format_size as format_size
from .location import parse_size as parse_size
from .location import resolve_cache_dir as resolve_cache_dir
from .run import Reuse as Reuse
from .run import RunCache as RunCache
from .store import CacheStore as CacheStore
from .store import Entry as Entry

__all__ = [
    "USER_CACHE_DIR",
    "CacheStore",
    "CacheUsage",
    "CachedClip",
    "Entry",
    "ProviderAnswers",
    "Pruned",
    "Reuse",
    "RunCache",
    "SupportsCacheIdentity",
    "UserCacheDir",
    "canonical_json",
    "clear",
    "code_version",
    "default_cache_dir",
    "default_max_bytes",
    "digest",
    "format_size",
    "make_key",
    "parse_size",
    "provider_identity",
    "prune",
    "resolve_cache_dir",
    "usage",
]
