"""Private storage for label and document PDFs: no public URL, served by a permission-checked view.

``LABEL_STORAGE`` names a storage alias of the project (S3 with private ACLs,
for instance); without it, files go to ``LABEL_ROOT`` (default
``BASE_DIR / "private-media"``), outside ``MEDIA_ROOT``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages

from .conf import shipping_settings


class PrivateLabelStorage(FileSystemStorage):
    """A file system storage that refuses to hand out public URLs."""

    def url(self, name: str | None) -> str:
        raise ValueError("Labels are private: serve them through the shipping_orders label view.")


@lru_cache(maxsize=8)
def _private_storage(location: str) -> Storage:
    return PrivateLabelStorage(location=location)


def label_storage() -> Storage:
    """The storage labels are saved to (``LABEL_STORAGE`` alias, or the private default)."""
    alias = shipping_settings.label_storage
    if alias:
        return storages[alias]
    return _private_storage(str(shipping_settings.label_root or default_label_root()))


def default_label_root() -> str:
    """Where labels go when neither ``LABEL_STORAGE`` nor ``LABEL_ROOT`` is set."""
    return os.path.join(str(getattr(settings, "BASE_DIR", os.getcwd())), "private-media")


def field_storage() -> Storage:
    """The storage a ``FileField`` of the app gets when the models are imported.

    Never resolved then: a mistake in ``SHIPPING_ORDERS`` (an alias missing
    from ``STORAGES``, say) must reach the system checks instead of stopping
    every ``manage.py`` command with a traceback of the import, so the field
    gets :class:`ConfiguredLabelStorage`, which reads the setting at each use.
    """
    return ConfiguredLabelStorage()


class ConfiguredLabelStorage(Storage):
    """The storage of ``Order.label``: whatever :func:`label_storage` names at the time of use.

    The model field is built while the models are imported; resolving the
    setting then would turn a mistake in ``SHIPPING_ORDERS`` into a traceback
    of every ``manage.py`` command, before the system checks could report it.
    """

    def _target(self) -> Storage:
        return label_storage()

    def open(self, name: str, mode: str = "rb") -> Any:
        return self._target().open(name, mode)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        return self._target().save(name, content, max_length=max_length)

    def delete(self, name: str) -> None:
        self._target().delete(name)

    def exists(self, name: str) -> bool:
        return self._target().exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._target().listdir(path)

    def size(self, name: str) -> int:
        return self._target().size(name)

    def url(self, name: str | None) -> str:
        return self._target().url(name)

    def path(self, name: str) -> str:
        return self._target().path(name)

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return self._target().generate_filename(filename)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self._target().get_available_name(name, max_length=max_length)

    def get_valid_name(self, name: str) -> str:
        return self._target().get_valid_name(name)
