"""The msal token cache, kept in a file that only the user can read, outside the repository.

The cache contains access and refresh tokens, so it lives in the user's cache folder
(``platformdirs.user_cache_dir("maildiag")``, or ``~/.cache/maildiag`` without
platformdirs), is created with mode 0600 in a folder with mode 0700, and may not
be placed inside this repository, where it could be committed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msal

logger = logging.getLogger(__name__)

CACHE_FILE_NAME = "msal_token_cache.json"
_REPOSITORY = Path(__file__).resolve().parents[2]


def default_cache_path() -> Path:
    """Return the cache file in the user's cache folder."""
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".cache" / "maildiag" / CACHE_FILE_NAME
    return Path(platformdirs.user_cache_dir("maildiag")) / CACHE_FILE_NAME


class TokenCache:
    """An msal `SerializableTokenCache` loaded from and saved to one private file.

    Raises ValueError when `path` is inside the repository.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser().resolve() if path is not None else default_cache_path()
        if self.path.is_relative_to(_REPOSITORY) and (_REPOSITORY / ".git").exists():
            raise ValueError(
                f"the token cache {self.path} is inside the repository {_REPOSITORY}; "
                "choose a path outside it, such as the default in the user's cache folder"
            )
        self.msal_cache = msal.SerializableTokenCache()
        if self.path.exists():
            self.msal_cache.deserialize(self.path.read_text(encoding="utf-8"))

    def save(self) -> None:
        """Write the cache if msal changed it, readable and writable by the user only."""
        if not self.msal_cache.has_state_changed:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # os.open applies the mode only to a new file, so an existing one is tightened too.
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.msal_cache.serialize())
        self.msal_cache.has_state_changed = False
        logger.info("saved the token cache to %s", self.path)
