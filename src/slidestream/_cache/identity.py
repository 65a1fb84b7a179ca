"""Which provider made an answer: the part of a cache key that names the provider.

A provider's answers are cached only when it says what changes them: a ``cache_identity()``
method (the :class:`SupportsCacheIdentity` protocol) returning its settings (model, voice,
speaking rate, endpoint...) as plain JSON values, or None when its answers must never be
reused (a provider that reads files which may change, say). A provider without the method is
never cached: slidestream cannot know which of its settings matter.

The identity adds the provider's name, its class, and the version of the code behind it: the
installed distribution's version for a plugin; for slidestream's own providers, a digest of the
module that defines the class (and of ``providers/_common``), so changed code makes new keys.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._version import __version__
from ..providers._protocols import provider_name
from .keys import code_version, plain

__all__ = ["SupportsCacheIdentity", "code_version_of", "provider_identity"]


@runtime_checkable
class SupportsCacheIdentity(Protocol):
    """A provider whose answers may be cached: it names every setting that changes them."""

    def cache_identity(self) -> Mapping[str, Any] | None:
        """The settings that change this provider's answers (plain JSON values).

        Return None when answers must never be reused. Leave secrets (API keys) out: they
        do not change what is said, and keys are digests anyway.
        """
        ...


def provider_identity(provider: object) -> dict[str, Any] | None:
    """What names ``provider``'s answers in a cache key; None when they are not cached.

    A fallback chain is cacheable when every member is; its identity is theirs, in order.
    """
    from ..providers._fallback import FallbackImages, FallbackTTS

    if isinstance(provider, (FallbackTTS, FallbackImages)):
        members = [provider_identity(member) for member in provider.providers]
        if any(member is None for member in members):
            return None
        return {"provider": provider_name(provider), "chain": members}
    if not isinstance(provider, SupportsCacheIdentity):
        return None
    settings = provider.cache_identity()
    if settings is None:
        return None
    cls = type(provider)
    return {
        "provider": provider_name(provider),
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "version": code_version_of(cls),
        "settings": plain(settings),
    }


def code_version_of(cls: type) -> str:
    """The version of the code that defines ``cls`` (see the module docstring)."""
    return _version_of_module(cls.__module__)


@functools.lru_cache(maxsize=128)
def _version_of_module(module_name: str) -> str:
    module = sys.modules.get(module_name)
    source = _source_file(module)
    if module_name == "slidestream" or module_name.startswith("slidestream."):
        paths = [source] if source else []
        if module_name.startswith("slidestream.providers.") and source is not None:
            paths.append(Path(__file__).parent.parent / "providers" / "_common")
        return f"{__version__}+{code_version(paths)}"
    top = module_name.split(".")[0]
    for distribution in importlib.metadata.packages_distributions().get(top, []):
        try:
            return f"{distribution}=={importlib.metadata.version(distribution)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"source:{code_version([source])}" if source else "unknown"


def _source_file(module: Any) -> Path | None:
    try:
        name = inspect.getsourcefile(module) if module is not None else None
    except TypeError:
        return None
    return Path(name) if name and Path(name).is_file() else None
