"""Where packages come from: the package indexes the user configured, read once per build.

Every install a build makes runs uv (the isolated build environment, the project's
dependencies, ``--from``/``--with``). uv reads its own settings and none of pip's, but
our users come from pip, pypa/build and tox, whose index settings live in ``PIP_*``
variables and pip's configuration files. So, as docs/configuration.md ("Indexes") says:

1. uv's own index settings (``UV_INDEX_URL``, ``UV_DEFAULT_INDEX``, ``UV_INDEX``,
   ``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_NO_INDEX``, ``uv.toml`` /
   ``[tool.uv]``) when there are any: uv applies them itself, with uv's semantics;
2. else pip's, read the way pip reads them, translated into uv's environment so that
   uv picks what pip would (pip merges every index and find-links location and takes the
   best version: uv's ``unsafe-best-match``, not its default ``first-index``);
3. else PyPI.

pip's configuration is read here with the stdlib, following pip's documented files and
precedence (https://pip.pypa.io/en/stable/topics/configuration/), rather than by
running ``pip config debug`` or importing ``pip._internal.configuration``: pip need not
be installed where a build runs (uv-made environments have none), its internals change
between releases, ``pip config``'s output is meant for people, not programs, and neither
says which file each value came from the way this report must.

Only where packages come from is read: pip's ``constraint``, ``timeout`` or ``proxy``
are not index settings and are not carried over (a lock file pins versions; uv reads the
usual proxy variables itself).

Credentials in URLs (``https://user:secret@host/simple``) go to uv through its
environment only: every URL this module shows, logs or records is :func:`redact`-ed.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal, Mapping
from urllib.parse import unquote, urlsplit

from .._errors import IndexSettingError
from .._report import redact, without_credentials

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Source = Literal["uv", "pip", "pypi"]

PYPI = "https://pypi.org/simple"
#: Set (to a digest of the report) once the settings were reported, so that the front
#: end and the backend it runs say them once.
ENV_REPORTED = "ONEFILE_INDEXES_REPORTED"
#: The front end's ``sys.prefix``: pip's "site" configuration file is the one of the
#: environment the user runs the build from, not of the isolated build environment.
ENV_SITE_PREFIX = "ONEFILE_PIP_SITE_PREFIX"

# The keys, by their pip/uv option names, that say where packages come from.
_PIP_LOCATIONS = ("index-url", "extra-index-url", "find-links", "no-index")
_PIP_KEYS = (*_PIP_LOCATIONS, "cert", "client-cert", "trusted-host")
_PIP_LISTS = ("extra-index-url", "find-links", "trusted-host")  # pip splits these on whitespace
_UV_VARIABLES = {
    "UV_INDEX_URL": "index-url",
    "UV_DEFAULT_INDEX": "default-index",
    "UV_INDEX": "index",
    "UV_EXTRA_INDEX_URL": "extra-index-url",
    "UV_FIND_LINKS": "find-links",
    "UV_NO_INDEX": "no-index",
}
_UV_FILE_KEYS = ("index-url", "default-index", "extra-index-url", "find-links", "no-index", "index")
_URL_KEYS = ("index-url", "default-index", "index", "extra-index-url")
_LABELS = {
    "index-url": "index",
    "default-index": "index",
    "index": "index",
    "extra-index-url": "extra index",
    "find-links": "find-links",
    "no-index": "no-index",
    "cert": "certificates",
    "client-cert": "client certificate",
    "trusted-host": "trusted host",
}
_PIP_DEFAULT = "pip's default"
_NO_SETTINGS = "the default: no index settings for uv or pip"
_DEFAULTS = (_PIP_DEFAULT, _NO_SETTINGS)


def _true(value: str) -> bool | None:
    """pip's (and uv's) reading of a boolean setting; None when it is neither."""
    lowered = value.strip().lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    return None


@dataclass(frozen=True)
class Setting:
    """One index setting: its key (pip's or uv's option name), value and origin."""

    key: str
    value: str  # as given: may hold credentials; show it only through ``shown``
    origin: str  # "PIP_INDEX_URL", "/etc/pip.conf [global]", "uv.toml", ...

    @property
    def shown(self) -> str:
        return redact(self.value)

    @property
    def whence(self) -> str:
        """``from PIP_INDEX_URL``, or the default this is."""
        return self.origin if self.origin in _DEFAULTS else f"from {self.origin}"

    def __str__(self) -> str:
        return f"{self.key} {self.shown} ({self.whence})"

    def to_json(self) -> dict[str, str]:
        return {"setting": self.key, "value": self.shown, "from": self.origin}


@dataclass(frozen=True)
class IndexSettings:
    """Where this build's packages come from, and how uv is told."""

    source: Source
    settings: tuple[Setting, ...] = ()  # the index settings of ``source``
    cert: Setting | None = None  # the certificate bundle, when one is set
    offline: Setting | None = None  # UV_OFFLINE (``--offline``), when on
    project_config: str | None = None  # uv's project-level config file, found from ``directory``
    directory: str = "."
    extra: tuple[Setting, ...] = field(default=())  # trusted hosts, client certificate (pip)

    def _values(self, key: str) -> list[str]:
        return [setting.value for setting in self.settings if setting.key == key]

    def _listed(self) -> tuple[Setting, ...]:
        """The settings, with the index used when none is set said out loud."""
        if self.source == "pypi":
            return (Setting("index-url", PYPI, _NO_SETTINGS),)
        if self.source == "pip" and not self._values("index-url") and not self._values("no-index"):
            return (Setting("index-url", PYPI, _PIP_DEFAULT), *self.settings)
        return self.settings

    def report(self) -> list[str]:
        """What the build says about it, one line each, credentials removed."""
        lines = [f"{_LABELS[s.key]}: {s.shown} ({s.whence})" for s in self._listed()]
        if self.source == "pip" and len(self.settings) > 1 and not self._values("no-index"):
            lines.append("index strategy: the best version across all of them, as pip picks (uv's unsafe-best-match)")
        lines += [f"{_LABELS[s.key]}: {s.shown} ({s.whence})" for s in (*self.extra, self.cert) if s]
        if self.offline is not None:
            lines.append(f"offline: packages only from uv's cache and local directories (from {self.offline.origin})")
        return lines

    def to_json(self) -> dict[str, Any]:
        """The manifest's record of it (``inspect`` shows it), credentials removed. Not
        whether the build was offline: that changes nothing in the binary, which stays
        byte for byte the same as an online build's."""
        return {"source": self.source, "settings": [setting.to_json() for setting in self._listed()]}

    def identity(self) -> list[Any]:
        """What, of these settings, can change which files an install gets (for cache keys)."""
        return [self.source, sorted((s.key, without_credentials(s.value)) for s in self.settings)]

    def uv_environment(self) -> dict[str, str]:
        """Variables to add to uv's environment (on top of ``os.environ``) for every install."""
        environment: dict[str, str] = {}
        if self.offline is not None:
            environment["UV_OFFLINE"] = "1"
        if self.cert is not None and self.cert.origin != "SSL_CERT_FILE":
            environment["SSL_CERT_FILE"] = self.cert.value
        if self.source == "uv":
            if self.project_config is not None:  # uv finds it from the directory it runs in
                environment["UV_WORKING_DIR"] = self.directory
            return environment
        for setting in self.extra:
            if setting.key == "trusted-host":
                hosts = [environment.get("UV_INSECURE_HOST", ""), setting.value]
                environment["UV_INSECURE_HOST"] = " ".join(filter(None, hosts))
            elif setting.key == "client-cert":
                environment["SSL_CLIENT_CERT"] = setting.value
        if self.source == "pypi":
            return environment
        for key, variable, separator in (
            ("index-url", "UV_INDEX_URL", " "),
            ("extra-index-url", "UV_EXTRA_INDEX_URL", " "),
            ("find-links", "UV_FIND_LINKS", ","),
        ):
            values = self._values(key)
            if values:
                environment[variable] = separator.join(values)
        # pip looks at every index and find-links location and installs the best version
        # (https://pip.pypa.io/en/stable/cli/pip_install/#finding-packages); uv's default
        # takes the first index that has the name (https://docs.astral.sh/uv/concepts/indexes/).
        environment.setdefault("UV_INDEX_STRATEGY", os.environ.get("UV_INDEX_STRATEGY") or "unsafe-best-match")
        if self._values("no-index"):
            environment["UV_CONFIG_FILE"] = _no_index_config()  # uv has no variable for --no-index
        return environment

    def explain(self, output: str) -> IndexSettingError | None:
        """The one-line error for uv's ``output`` when it failed for a reason of these
        settings (an index it can't reach, a package not available offline); else None."""
        missing = re.search(
            r"Because (?:only )?([A-Za-z0-9][A-Za-z0-9._-]*)\S* (?:was|were) not found in the "
            r"(cache|package registry|provided package locations)",
            output,
        )
        if missing and (self.offline is not None or self._values("no-index")):
            name = missing[1]
            places = ", ".join(redact(value) for value in self._values("find-links"))
            local = f"uv's cache or the find-links locations ({places})" if places else "uv's cache"
            if self.offline is not None:
                return IndexSettingError(
                    "offline", self.offline.origin,
                    f"offline (from {self.offline.origin}): {name} is not in {local}: "
                    "build once with the network, or put its wheel in a find-links directory",
                )  # fmt: skip
            setting = next(s for s in self.settings if s.key == "no-index")
            return IndexSettingError(
                "no-index", setting.origin, f"{setting}: {name} is not in the find-links locations ({places or 'none'})"
            )
        # uv takes an index that refuses (401, 403) for one without the package, and says so
        # in a hint, at times: ask the indexes once more ourselves, to say which refused.
        refused = re.search(r"An index URL \((\S+)\) could not be queried due to (.+?)\.?$", output, re.MULTILINE)
        fetched = re.search(r"Failed to (?:fetch|read from the registry for [^:]*): `?([^`\s]+?)`?(?:\s|$)", output)
        if refused:
            url, reason = without_credentials(refused[1]), redact(refused[2])
        elif missing and missing[2] == "package registry" and self.source == "pip":
            return self._probe(missing[1])
        elif fetched:
            url = without_credentials(fetched[1])
            causes = [line.split("cause:", 1)[1].strip() for line in output.splitlines() if "cause:" in line]
            reason = redact(causes[-1] if causes else "failed")
        else:
            return None
        candidates = [s for s in self._listed() if s.key in (*_URL_KEYS, "find-links")]
        for setting in candidates:
            base = without_credentials(setting.value.split("=", 1)[1] if _is_named(setting) else setting.value)
            if url.startswith(base.rstrip("/")):
                return IndexSettingError(setting.key, setting.origin, f"{setting}: request failed: {reason}")
        return None

    def _probe(self, name: str) -> IndexSettingError | None:
        """The first of pip's indexes (http or https) that refuses the page of project
        ``name``, asked with the credentials uv has: the URL's, else ``~/.netrc``'s."""
        import netrc
        import ssl
        import urllib.error
        import urllib.request

        context = ssl.create_default_context(cafile=self.cert.value if self.cert else None)
        for setting in self.settings:
            if setting.key not in _URL_KEYS:
                continue
            base = setting.value.split("=", 1)[1] if _is_named(setting) else setting.value
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https"):
                continue
            request = urllib.request.Request(without_credentials(base).rstrip("/") + f"/{_canonical(name)}/")
            login = None
            if parts.username is not None:
                login = (unquote(parts.username), unquote(parts.password or ""))
            else:
                with contextlib.suppress(OSError, netrc.NetrcParseError):
                    found = netrc.netrc(os.environ.get("NETRC")).authenticators(parts.hostname or "")
                    login = (found[0], found[2] or "") if found else None
            if login is not None:
                token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
                request.add_header("Authorization", f"Basic {token}")
            try:
                urllib.request.urlopen(request, timeout=30, context=context).close()
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403, 407) or exc.code >= 500:
                    return IndexSettingError(
                        setting.key, setting.origin, f"{setting}: request failed: HTTP {exc.code} {exc.reason}"
                    )
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                return IndexSettingError(
                    setting.key, setting.origin, f"{setting}: request failed: {redact(str(reason))}"
                )
        return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_named(setting: Setting) -> bool:
    """uv's ``name=url`` form of an index."""
    return setting.key == "index" and "=" in setting.value.split("://", 1)[0]


def _no_index_config() -> str:
    """A uv.toml that says ``no-index = true`` (nothing secret: it lives in the build cache)."""
    from ..cache.kinds import UV_SETTINGS
    from ..cache.store import build_cache_dir

    directory = os.path.join(build_cache_dir(), UV_SETTINGS.name)
    path = os.path.join(directory, "no-index.toml")
    if not os.path.isfile(path):
        os.makedirs(directory, exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as f:
            f.write("# Written by onefile-backend: pip's no-index, for uv (which has no variable for it)\n")
            f.write("no-index = true\n")
        os.replace(partial, path)
    return path


# -- pip --------------------------------------------------------------------------------


def _pip_config_files(environ: Mapping[str, str]) -> list[str]:
    """pip's configuration files, lowest precedence first (pip's
    ``Configuration.iter_config_files`` and ``override_order``: global, user, site, then
    the file ``PIP_CONFIG_FILE`` names; ``PIP_CONFIG_FILE=/dev/null`` loads none)."""
    chosen = environ.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        return []
    home = environ.get("HOME") or os.path.expanduser("~")
    config_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [os.path.join(d, "pip", "pip.conf") for d in config_dirs if d] + ["/etc/pip.conf"]
    if not (chosen and os.path.exists(chosen)):  # pip skips the user's files then
        user_dir = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(user_dir, "pip", "pip.conf")]
    files.append(os.path.join(environ.get(ENV_SITE_PREFIX) or sys.prefix, "pip.conf"))
    if chosen:
        files.append(chosen)
    return files


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").removeprefix("--")


def _read_pip(environ: Mapping[str, str]) -> dict[str, Setting]:
    """pip's value of each of _PIP_KEYS that is set, as ``pip install`` would see it: a
    ``PIP_*`` variable, else the ``[install]`` section, else ``[global]``; later files win."""
    found: dict[tuple[str, str], Setting] = {}
    for path in _pip_config_files(environ):
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise IndexSettingError(
                "pip.conf", path, f"{path}: not a pip configuration file pip can read ({first})"
            ) from None
        for section in ("global", "install"):
            if parser.has_section(section):
                for name, value in parser.items(section):
                    key = _normalize(name)
                    if key in _PIP_KEYS:
                        found[(section, key)] = Setting(key, value.strip(), f"{path} [{section}]")
    settings: dict[str, Setting] = {}
    for key in _PIP_KEYS:
        variable = "PIP_" + key.upper().replace("-", "_")
        if environ.get(variable, "").strip():
            settings[key] = Setting(key, environ[variable].strip(), variable)
        elif ("install", key) in found:
            settings[key] = found[("install", key)]
        elif ("global", key) in found:
            settings[key] = found[("global", key)]
    return settings


def _pip_settings(raw: dict[str, Setting]) -> tuple[list[Setting], list[Setting]]:
    """(index settings, trusted hosts and client certificate), lists split into one
    setting per value as pip splits them."""
    locations: list[Setting] = []
    extra: list[Setting] = []
    for key in (*_PIP_LOCATIONS, "trusted-host", "client-cert"):
        setting = raw.get(key)
        if setting is None:
            continue
        if key == "no-index":
            on = _true(setting.value)
            if on is None:
                raise IndexSettingError(
                    key, setting.origin, f"{setting}: not a boolean (expected 1/0, true/false, yes/no)"
                )
            if on:
                locations.append(Setting(key, "true", setting.origin))
            continue
        values = setting.value.split() if key in _PIP_LISTS else [setting.value]
        target = extra if key in ("trusted-host", "client-cert") else locations
        target += [Setting(key, value, setting.origin) for value in values]
    return locations, extra


# -- uv ---------------------------------------------------------------------------------


def _uv_table(path: str) -> dict[str, Any] | None:
    """The uv settings in ``path`` (a uv.toml, or a pyproject.toml's ``[tool.uv]``)."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise IndexSettingError("uv", path, f"{path}: not valid TOML ({exc})") from None
    if os.path.basename(path) == "pyproject.toml":
        table = document.get("tool", {}).get("uv")
        return table if isinstance(table, dict) else None
    return document


def _uv_project_config(directory: str) -> str | None:
    """The file uv takes its project settings from, looking up from ``directory``: a
    uv.toml, or a pyproject.toml with ``[tool.uv]`` (https://docs.astral.sh/uv/concepts/configuration-files/)."""
    current = os.path.abspath(directory)
    while True:
        for name in ("uv.toml", "pyproject.toml"):
            path = os.path.join(current, name)
            if os.path.isfile(path) and _uv_table(path) is not None:
                return path
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _uv_config_files(directory: str, environ: Mapping[str, str]) -> tuple[list[str], str | None]:
    """uv's configuration files, the project's first; and the project's, if any."""
    if _true(environ.get("UV_NO_CONFIG", "")):
        return [], None
    explicit = environ.get("UV_CONFIG_FILE")
    if explicit:
        return [explicit], None
    project = _uv_project_config(directory)
    home = environ.get("HOME") or os.path.expanduser("~")
    user_dir = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files = [os.path.join(user_dir, "uv", "uv.toml")]
    config_dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]
    system = [os.path.join(d, "uv", "uv.toml") for d in config_dirs] + ["/etc/uv/uv.toml"]
    files += [path for path in system if os.path.isfile(path)][:1]  # uv reads the first one
    return ([project] if project else []) + files, project


def _settings_in_uv_table(table: Mapping[str, Any], origin: str) -> list[Setting]:
    settings: list[Setting] = []
    for scope, label in ((table, origin), (table.get("pip") or {}, f"{origin} [pip]")):
        if not isinstance(scope, dict):
            continue
        for key in _UV_FILE_KEYS:
            value = scope.get(key)
            if value is None or value is False:
                continue
            if key == "index" and isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                        name = entry.get("name")
                        text = f"{name}={entry['url']}" if isinstance(name, str) else str(entry["url"])
                        settings.append(Setting("default-index" if entry.get("default") else "index", text, label))
            elif isinstance(value, list):
                settings += [Setting(key, str(item), label) for item in value]
            else:
                settings.append(Setting(key, str(value).lower() if isinstance(value, bool) else str(value), label))
    return settings


def _read_uv(directory: str, environ: Mapping[str, str]) -> tuple[list[Setting], str | None]:
    settings: list[Setting] = []
    for variable, key in _UV_VARIABLES.items():
        value = environ.get(variable, "").strip()
        if not value:
            continue
        if key == "no-index":
            if _true(value):
                settings.append(Setting(key, "true", variable))
            continue
        values = (
            value.split(",")
            if key == "find-links"
            else value.split()
            if key in ("index", "extra-index-url")
            else [value]
        )
        settings += [Setting(key, item.strip(), variable) for item in values if item.strip()]
    files, project = _uv_config_files(directory, environ)
    from_files: list[Setting] = []
    for path in files:
        table = _uv_table(path)
        if table is not None:
            where = f"{path} [tool.uv]" if os.path.basename(path) == "pyproject.toml" else path
            from_files += _settings_in_uv_table(table, where)
    has_project_settings = project is not None and any(s.origin.startswith(project) for s in from_files)
    return settings + from_files, project if has_project_settings else None


# -- both -------------------------------------------------------------------------------


def _check(setting: Setting) -> None:
    """A malformed URL or a missing file is the user's to fix: say which, and where it is set."""
    value = setting.value.split("=", 1)[1] if _is_named(setting) else setting.value
    if setting.key in ("cert", "client-cert"):
        if not os.path.isfile(value):
            raise IndexSettingError(setting.key, setting.origin, f"{setting}: no such file")
        return
    if setting.key not in (*_URL_KEYS, "find-links"):
        return
    if setting.key == "find-links" and "://" not in value:
        return  # a local directory or file: pip and uv skip one that isn't there
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise IndexSettingError(setting.key, setting.origin, f"{setting}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.hostname):
        raise IndexSettingError(
            setting.key,
            setting.origin,
            f"{setting}: not a URL (expected http://HOST/..., https://HOST/... or file:///...)",
        )


def read_index_settings(directory: str, environ: Mapping[str, str] | None = None) -> IndexSettings:
    """The index settings a build started for ``directory`` (where uv looks for a
    uv.toml or ``[tool.uv]``) uses; IndexSettingError names a bad one."""
    environ = os.environ if environ is None else environ
    directory = os.path.abspath(directory)
    uv, project = _read_uv(directory, environ)
    pip = _read_pip(environ)
    offline = Setting("offline", "true", "UV_OFFLINE") if _true(environ.get("UV_OFFLINE", "")) else None
    extra: list[Setting] = []
    cert: Setting | None = None
    if uv:
        source: Source = "uv"
        settings = uv
    else:
        settings, extra = _pip_settings(pip)
        source = "pip" if settings else "pypi"
        cert = pip.get("cert")
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):  # what uv reads, then what pip's requests does
        if cert is None and environ.get(variable, "").strip():
            cert = Setting("cert", environ[variable].strip(), variable)
    for setting in (*settings, *extra, *([cert] if cert else [])):
        _check(setting)
    return IndexSettings(
        source=source,
        settings=tuple(settings),
        cert=cert,
        offline=offline,
        project_config=project,
        directory=directory,
        extra=tuple(extra),
    )


def report_index_settings(settings: IndexSettings, log: Callable[[str], None]) -> None:
    """Log the settings, unless this build (this process or the front end that started
    it) already said the same."""
    lines = settings.report()
    digest = hashlib.sha256(json.dumps(lines).encode()).hexdigest()[:16]
    if os.environ.get(ENV_REPORTED) == digest:
        return
    for line in lines:
        log(line)
    os.environ[ENV_REPORTED] = digest


@contextlib.contextmanager
def uv_environment_applied(settings: IndexSettings) -> Iterator[None]:
    """``os.environ`` with the settings' variables for uv, for installs made by code that
    runs uv with this process's environment (pypa/build's isolated environments)."""
    added = settings.uv_environment()
    saved = {name: os.environ.get(name) for name in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
