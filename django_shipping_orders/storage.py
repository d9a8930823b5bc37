"""Private storage for label and document PDFs: no public URL, served by a permission-checked view.

``LABEL_STORAGE`` names a storage alias of the project (S3 with private ACLs,
for instance); without it, files go to ``LABEL_ROOT`` (default
``BASE_DIR / "private-media"``), outside ``MEDIA_ROOT``.
"""

from __future__ import annotations

import os
from functools import lru_cache

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
    root = shipping_settings.label_root or os.path.join(
        str(getattr(settings, "BASE_DIR", os.getcwd())), "private-media"
    )
    return _private_storage(str(root))
