"""Model names, versions and the `name/version` references a deployment is made of.

Names and versions are checked against strict patterns before they reach a path, a Redis key or
a log line: lower-case names, versions of letters, digits, `.`, `_` and `-`, each starting with a
letter or digit (so `.`, `..` and hidden names are impossible), nothing that could be a separator.
"""

from __future__ import annotations

import re

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
NAME_RULE = "1-64 of a-z 0-9 . _ -, starting with a letter or digit"
VERSION_RULE = "1-32 of A-Z a-z 0-9 . _ -, starting with a letter or digit"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"model name {name[:80]!r} is not valid ({NAME_RULE})")
    return name


def check_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise ValueError(f"version {version[:80]!r} is not valid ({VERSION_RULE})")
    return version


def ref(name: str, version: str) -> str:
    """`efficientnet-lite0-pets/1`: one model version, as a deployment names it."""
    return f"{check_name(name)}/{check_version(version)}"


def split_ref(text: str) -> tuple[str, str]:
    """(name, version) of `name/version`; ValueError when it is not one."""
    name, sep, version = text.partition("/")
    if not sep:
        raise ValueError(f"{text[:80]!r} is not a model version: write name/version")
    return check_name(name), check_version(version)


def check_ref(text: str) -> str:
    split_ref(text)
    return text


def sane_token(raw: str | None) -> str | None:
    """A header value fit to store and log (a camera id, a key id), else None."""
    if raw and re.fullmatch(r"[A-Za-z0-9._:@-]{1,128}", raw):
        return raw
    return None
