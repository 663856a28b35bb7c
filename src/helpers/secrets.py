"""What must never be seen: credentials in text, and temporary folders other users could read.

:func:`scrub` is the one scrubber for every form a warehouse credential takes:

* a URL's user information, ``scheme://user:password@host`` (the password may hold
  ``/``, spaces or ``@``: everything from the scheme to the last ``@`` of the line goes);
* a password in a query string or a libpq keyword string: ``?password=…``,
  ``password=…``, ``password='with spaces'`` (and ``sslpassword``, ``token``, ``secret``);
* the passwords of known connection strings wherever they appear, as written and
  percent-decoded: the strings given to :func:`scrub`, and every environment variable
  whose value is a connection string holding a password (``WAREHOUSE_URL``...) or whose
  name says it holds a secret (``PGPASSWORD``, ``..._TOKEN``, ``..._SECRET``).

:func:`private_dir` gives the temporary folders the engine and the kernels use: owned by
this user, mode 0700, never a link planted by someone else.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

__all__ = [
    "ENV_NAME",
    "REDACTED",
    "looks_like_connection",
    "private_dir",
    "scrub",
    "scrub_data",
    "scrubber",
    "secrets_in",
]

#: What a hidden credential is replaced by (plain text: safe in HTML and Markdown too).
REDACTED = "[redacted]"
#: Known passwords shorter than this are not replaced everywhere (they would hide ordinary
#: words); the patterns still hide them in a URL, a query string or a keyword string.
MIN_SECRET = 4

#: The name of an environment variable, as a shell spells one (``env:VARIABLE`` sources).
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
# scheme://user:password@ -- the user part has no ':', '/', '@' or space; the password runs
# to the last '@' of the line, so '/', spaces and '@' inside it are hidden too (not across
# '<', '>' or '"', which end an HTML attribute or tag around a URL)
_URL_USERINFO = re.compile(rf"({_SCHEME})[^\s:/@?#<>\"']*:[^\n<>\"]{{0,512}}@")
_SECRET_KEYS = r"password|passwd|pwd|sslpassword|passphrase|secret|token|api[_-]?key"
# key=value (query strings, libpq keyword strings): quoted values may hold spaces; an
# unquoted one ends at a space, a quote or an angle bracket
_KEY_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9])((?:{_SECRET_KEYS})\s*=\s*)"
    r"('(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?|[^\s'\"<>]+)"
)
# 'password': 'x' (a dict's repr, JSON)
_QUOTED_KEY = re.compile(
    rf"(?i)(['\"](?:{_SECRET_KEYS})['\"]\s*:\s*)('(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?)"
)
_LIBPQ_KEYS = (
    "host|hostaddr|port|dbname|user|password|passfile|sslmode|sslpassword|service|"
    "connect_timeout|options|application_name|target_session_attrs"
)
_KEYWORD_DSN = re.compile(rf"(?i)(?:^|\s)(?:{_LIBPQ_KEYS})\s*=")
_DSN_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
_PASSWORD_KEYS = {"password", "passwd", "pwd", "sslpassword", "passphrase"}


def looks_like_connection(text: str) -> bool:
    """Whether ``text`` is (or holds) a connection string: a URL, or a libpq keyword string
    (two ``key=value`` pairs of libpq's keywords, or one naming a password)."""
    text = str(text)
    if "://" in text:
        return True
    keys = [m.group(0).strip().rstrip("=").strip().lower() for m in _KEYWORD_DSN.finditer(text)]
    return len(keys) >= 2 or any(k in _PASSWORD_KEYS for k in keys)


def secrets_in(connection: str | None) -> set[str]:
    """The passwords a connection string holds, as written and decoded (empty if none).

    The whole string is included too when it holds a password. Used to hide them
    wherever they appear, whatever the form (an error message may show a decoded one).
    """
    if not connection:
        return set()
    text = str(connection)
    found: set[str] = set()
    scheme = re.match(_SCHEME, text)
    if scheme:
        rest = text[scheme.end() :]
        # user information runs to the last '@' (a password may hold '/', '@' or spaces)
        userinfo = rest.rpartition("@")[0] if "@" in rest else ""
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
            found.add(userinfo)
        query = rest.partition("?")[2]
        for part in re.split(r"[&;]", query):
            key, _, value = part.partition("=")
            if key.strip().lower() in _PASSWORD_KEYS and value:
                found.add(value)
    else:
        for key, value in _DSN_PAIR.findall(text):
            if key.lower() in _PASSWORD_KEYS and value:
                found.add(value)
                if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                    found.add(re.sub(r"\\(.)", r"\1", value[1:-1]))
    decoded = set()
    for s in found:
        decoded |= {unquote(s), unquote_plus(s)}
    found |= decoded
    found = {s for s in found if s}
    if found:
        found.add(text)
    return found


# environment variables whose value is itself a secret (PGPASSWORD, WAREHOUSE_TOKEN...);
# TOKENIZERS_PARALLELISM=false is not one, and a short value would hide ordinary words
_SECRET_NAME = re.compile(r"(?i)passw(or)?d|(^|_)(secret|token|api_?key)(_|$)")
_MIN_ENV_SECRET = 6


def _environment_secrets() -> set[str]:
    out: set[str] = set()
    for name, value in os.environ.items():
        if looks_like_connection(value):
            out |= secrets_in(value)
        elif _SECRET_NAME.search(name) and len(value) >= _MIN_ENV_SECRET:
            out.add(value)
    return out


def _fragments(secret: str) -> set[str]:
    """Pieces of a password split where a URL parser would split it (``Hun`` of ``Hun/ter2``)."""
    return {p for p in re.split(r"[/@:?#\s%]+", secret) if len(p) >= 3}


def scrubber(*known: str | None, fragments: bool = False) -> Callable[[str], str]:
    """A function that hides credentials in text (see the module docstring).

    Parameters
    ----------
    known
        Connection strings whose passwords must be hidden wherever they appear, on top of
        those found in the environment.
    fragments
        Also hide the pieces of a known password split at ``/``, ``@``, ``:``, ``?``, ``#``
        or spaces (for one-line error messages, where a parser may quote only a piece).
    """
    secrets: set[str] = set(_environment_secrets())
    for k in known:
        secrets |= secrets_in(k)
    hidden = {s for s in secrets if len(s) >= MIN_SECRET}
    if fragments:
        hidden |= {f for s in secrets for f in _fragments(s)}
    ordered = sorted(hidden, key=len, reverse=True)

    def scrub_text(text: str) -> str:
        if not text:
            return text
        for s in ordered:
            if s in text:
                text = text.replace(s, REDACTED)
        text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
        text = _KEY_VALUE.sub(rf"\1{REDACTED}", text)
        return _QUOTED_KEY.sub(rf"\1'{REDACTED}'", text)

    return scrub_text


def scrub(text: Any, *known: str | None, fragments: bool = False) -> str:
    """``text`` with every credential hidden (see :func:`scrubber`)."""
    return scrubber(*known, fragments=fragments)(str(text))


def scrub_data(data: Any, *known: str | None) -> Any:
    """Every string inside nested dicts and lists scrubbed (manifests, notebooks)."""
    fn = scrubber(*known)

    def walk(x: Any) -> Any:
        if isinstance(x, str):
            return fn(x)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return type(x)(walk(v) for v in x)
        return x

    return walk(data)


# ------------------------------------------------------------------ private temp folders

_private: dict[str, Path] = {}


def private_dir(name: str) -> Path:
    """A temporary folder only this user can enter: ``<tmp>/<name>-<uid>``, mode 0700.

    The folder is created if absent. When the path exists but is not a real folder
    owned by this user (another local user created it first, or planted a link), a
    fresh folder from :func:`tempfile.mkdtemp` is used instead, removed at exit.
    """
    base = Path(tempfile.gettempdir())
    key = f"{base}/{name}"
    cached = _private.get(key)
    if cached is not None and _is_private(cached):
        return cached
    path = base / f"{name}-{os.geteuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        path = None  # type: ignore[assignment]
    if path is None or not _make_private(path):
        path = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    _private[key] = path
    return path


def _make_private(path: Path) -> bool:
    """Whether ``path`` is a real folder of this user; its mode is narrowed to 0700 if wider."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # a link, a file, or unreadable
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return False
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o700)
        return True
    finally:
        os.close(fd)


def _is_private(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077
