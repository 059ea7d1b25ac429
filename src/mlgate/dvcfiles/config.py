"""DVC's configuration: the default remote, from .dvc/config and .dvc/config.local as DVC merges them."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import DataError, first_line


@dataclass(frozen=True)
class RemoteConfig:
    """A DVC remote as ``.dvc/config`` (and ``.dvc/config.local``) declare it."""

    name: str
    url: str
    options: dict[str, str]


def default_remote(root: Path, shared: bytes | None = None) -> RemoteConfig | None:
    """The project's default DVC remote (``core.remote``), None when it has none: from
    ``shared`` (the committed .dvc/config, as a revision holds it; None: the one on disk) and
    the machine's own .dvc/config.local over it, as DVC reads them. A relative local path is
    relative to the .dvc folder, as DVC resolves it."""
    import configparser

    sections: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            if name == "config" and shared is not None:
                text = shared.decode("utf-8")
            else:
                text = (root / ".dvc" / name).read_text(encoding="utf-8")
            parser.read_string(text)
        except FileNotFoundError:
            continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise DataError(f".dvc/{name} is not a valid DVC config: {first_line(exc)}") from None
        for section in parser.sections():
            key = " ".join(section.replace("'", " ").replace('"', " ").split())
            sections.setdefault(key, {}).update(parser[section])
    remote = sections.get("core", {}).get("remote")
    if not remote:
        return None
    options = sections.get(f"remote {remote}")
    if not options or not options.get("url"):
        raise DataError(f".dvc/config: core.remote names '{remote}', which has no url")
    options = dict(options)
    url = options.pop("url")
    if "://" not in url and not posixpath.isabs(url):
        url = str((root / ".dvc" / url).resolve())
    return RemoteConfig(remote, url, options)
