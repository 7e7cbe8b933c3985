"""Packages come from the indexes the user configured (issue 24).

The indexes are real: PEP 503 simple trees served from 127.0.0.1 by ``http.server`` in a
thread of the test process. The private index serves its own ``six 1.16.0`` (a module
that says where it is from), a name and version PyPI has too: a build that reached PyPI
(or reused what it got from there) would put PyPI's six in the binary.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import EXAMPLES, REPO, copy_project

from onefile_backend._errors import IndexSettingError
from onefile_backend._report import redact
from onefile_backend.app.indexes import ENV_REPORTED, read_index_settings

# -- a private index ------------------------------------------------------------------


def make_wheel(directory: Path, name: str, version: str, modules: dict[str, str]) -> Path:
    """A pure-Python wheel holding ``modules`` (file name -> source)."""
    dist_info = f"{name}-{version}.dist-info"
    files = dict(modules)
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n"
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\n"
    files[f"{dist_info}/RECORD"] = record + f"{dist_info}/RECORD,,\n"
    path = directory / f"{name}-{version}-py2.py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def write_simple_index(root: Path, wheels: list[Path]) -> Path:
    """``root/simple/<project>/index.html`` linking to ``root/files/<wheel>#sha256=...``."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[str]] = {}
    for wheel in wheels:
        data = wheel.read_bytes()
        (root / "files" / wheel.name).write_bytes(data)
        project = wheel.name.split("-")[0].replace("_", "-").replace(".", "-").lower()
        link = f'<a href="../../files/{wheel.name}#sha256={hashlib.sha256(data).hexdigest()}">{wheel.name}</a>'
        projects.setdefault(project, []).append(link)
    for project, links in projects.items():
        (root / "simple" / project).mkdir(parents=True, exist_ok=True)
        (root / "simple" / project / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    listing = "".join(f'<a href="{project}/">{project}</a>\n' for project in sorted(projects))
    (root / "simple" / "index.html").write_text(f"<html><body>\n{listing}</body></html>\n")
    return root


class _IndexServer(ThreadingHTTPServer):
    daemon_threads = True
    authorization: str | None = None  # the Authorization header every request must carry
    requests: list[str]


class _Handler(SimpleHTTPRequestHandler):
    server: _IndexServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.server.authorization and self.headers.get("Authorization") != self.server.authorization:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path, credentials: str | None = None) -> Iterator[_IndexServer]:
    """Serve ``root`` on 127.0.0.1 (requiring basic auth with ``credentials``, "user:password")."""
    server = _IndexServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    server.requests = []
    if credentials:
        server.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: _IndexServer, credentials: str = "") -> str:
    return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{server.server_port}/simple"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PRIVATE_SIX = 'ORIGIN = "the private index"\n__version__ = "1.16.0"\n'


@pytest.fixture(scope="session")
def private_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("private-index")
    wheel = make_wheel(root, "six", "1.16.0", {"six.py": PRIVATE_SIX})
    return write_simple_index(root / "index", [wheel])


# -- builds with chosen settings ------------------------------------------------------

# Every variable that says where packages come from: the machine's own (this one's
# PIP_FIND_LINKS, pip.conf files) must not decide what these tests see.
_INDEX_VARIABLES = (
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONFIG_FILE", "PIP_TRUSTED_HOST",
    "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_NO_INDEX",
    "UV_OFFLINE", "UV_CONFIG_FILE", "UV_INDEX_STRATEGY", ENV_REPORTED,
)  # fmt: skip


def build_env(**settings: str) -> dict[str, str]:
    """This process's environment without any index setting, pip's config files off
    (``PIP_CONFIG_FILE=/dev/null``), then ``settings``."""
    environment = {k: v for k, v in os.environ.items() if k not in _INDEX_VARIABLES}
    environment["PIP_CONFIG_FILE"] = os.devnull
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environment.update(settings)
    return environment


def run_onefile(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onefile_backend", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def errors_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ERROR")]


def inspect_json(binary: Path) -> dict[str, Any]:
    result = run_onefile("inspect", "--json", str(binary), env=build_env())
    assert result.returncode == 0, result.stderr
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def assert_private_six(binary: Path, url: str, origin: str) -> None:
    """The binary runs the private index's six, and says it came from ``url``."""
    ran = subprocess.run([str(binary)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "six 1.16.0 from the private index"
    facts = inspect_json(binary)
    assert facts["distributions"]["six"] == "1.16.0"
    assert {"setting": "index-url", "value": url, "from": origin} in facts["indexes"]["settings"]


# -- the private package, from each place an index can be set --------------------------


@pytest.mark.integration
@pytest.mark.parametrize("where", ["PIP_INDEX_URL", "pip.conf", "UV_INDEX_URL", "uv over pip", "tool.uv"])
def test_the_package_comes_from_the_configured_index(where: str, private_index: Path, tmp_path: Path) -> None:
    project = copy_project("privateindex", tmp_path)
    with serve(private_index) as server:
        url = url_of(server)
        if where == "pip.conf":
            config = tmp_path / "pip.conf"
            config.write_text(f"[global]\nindex-url = {url}\n")
            env, origin = build_env(PIP_CONFIG_FILE=str(config)), f"{config} [global]"
        elif where == "tool.uv":  # the project's own uv settings, which uv reads itself
            with open(project / "pyproject.toml", "a") as f:
                f.write(f'\n[tool.uv]\nindex-url = "{url}"\n')
            env, origin = build_env(), f"{project}/pyproject.toml [tool.uv]"
        elif where == "uv over pip":  # pip's points nowhere: uv's must win
            unreachable = f"http://127.0.0.1:{closed_port()}/simple"
            env, origin = build_env(UV_INDEX_URL=url, PIP_INDEX_URL=unreachable), "UV_INDEX_URL"
        else:
            env, origin = build_env(**{where: url}), where
        result = run_onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr.count(f"* index: {url} (from {origin})") == 1
        assert any(path.startswith("/simple/six/") for path in server.requests)
    assert_private_six(tmp_path / "dist" / "privateindex", url, origin)


@pytest.mark.integration
def test_find_links_alone_with_no_index(private_index: Path, tmp_path: Path) -> None:
    """pip's air-gapped setting: PIP_NO_INDEX=1 and a directory of wheels."""
    project = copy_project("privateindex", tmp_path)
    env = build_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(private_index / "files"))
    result = run_onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=env)
    assert result.returncode == 0, result.stderr
    assert "* no-index: true (from PIP_NO_INDEX)" in result.stderr
    ran = subprocess.run([str(tmp_path / "dist" / "privateindex")], capture_output=True, text=True)
    assert ran.stdout.strip() == "six 1.16.0 from the private index"


@pytest.mark.integration
def test_a_pylock_installs_from_its_own_urls(private_index: Path, tmp_path: Path) -> None:
    """The lock names the private index's file: that is what goes in, whatever index is set."""
    project = copy_project("privateindex", tmp_path)
    wheel = private_index / "files" / "six-1.16.0-py2.py3-none-any.whl"
    with serve(private_index) as server:
        (project / "pylock.toml").write_text(
            'lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "six"\nversion = "1.16.0"\n'
            f'index = "{url_of(server)}"\n\n[[packages.wheels]]\nname = "{wheel.name}"\n'
            f'url = "http://127.0.0.1:{server.server_port}/files/{wheel.name}"\n'
            f'hashes = {{ sha256 = "{hashlib.sha256(wheel.read_bytes()).hexdigest()}" }}\n'
        )
        result = run_onefile("build", "--binary", "-n", str(project), "-o", str(tmp_path / "dist"), env=build_env())
        assert result.returncode == 0, result.stderr
        assert f"/files/{wheel.name}" in server.requests
    ran = subprocess.run([str(tmp_path / "dist" / "privateindex")], capture_output=True, text=True)
    assert ran.stdout.strip() == "six 1.16.0 from the private index"


# -- bad settings ---------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("isolation", ["isolated", "-n"])
def test_an_unreachable_index_is_one_line_naming_the_setting(isolation: str, tmp_path: Path) -> None:
    project = copy_project("privateindex", tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/simple"
    flags = ["-n"] if isolation == "-n" else []
    env = build_env(PIP_INDEX_URL=url, UV_HTTP_RETRIES="0")
    result = run_onefile("build", "--binary", *flags, str(project), "-o", str(tmp_path / "dist"), env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (error,) = errors_of(result)
    assert error.startswith(f"ERROR index-url {url} (from PIP_INDEX_URL): request failed: "), error
    assert "Connection refused" in error
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"PIP_INDEX_URL": "htp:/nowhere"}, "ERROR index-url htp:/nowhere (from PIP_INDEX_URL): not a URL"),
        ({"PIP_CERT": "/nonexistent/ca.pem"}, "ERROR cert /nonexistent/ca.pem (from PIP_CERT): no such file"),
        ({"UV_INDEX_URL": "https://host:port/simple"}, "ERROR index-url https://host:port/simple (from UV_INDEX_URL): not a URL"),
        ({"PIP_NO_INDEX": "maybe"}, "ERROR no-index maybe (from PIP_NO_INDEX): not a boolean"),
    ],
)  # fmt: skip
def test_a_bad_setting_stops_the_build_before_anything(settings: dict[str, str], expected: str, tmp_path: Path) -> None:
    result = run_onefile("build", "--binary", "-n", str(EXAMPLES / "hello"), "-o", str(tmp_path), env=build_env(**settings))
    assert result.returncode == 1
    (error,) = errors_of(result)
    assert error.startswith(expected), error
    assert list(tmp_path.iterdir()) == []


# -- credentials ------------------------------------------------------------------------


@pytest.mark.integration
def test_credentials_in_the_index_url_are_used_and_never_shown(private_index: Path, tmp_path: Path) -> None:
    project = copy_project("privateindex", tmp_path)
    with serve(private_index, credentials="user:s3cr3t-token") as server:
        # Without them the server refuses: it really needs them.
        refused = run_onefile(
            "build", "--binary", "-n", str(project), "-o", str(tmp_path / "refused"),
            env=build_env(PIP_INDEX_URL=url_of(server), UV_HTTP_RETRIES="0"),
        )  # fmt: skip
        assert refused.returncode == 1
        (error,) = errors_of(refused)
        assert "(from PIP_INDEX_URL)" in error and "401" in error
        env = build_env(PIP_INDEX_URL=url_of(server, "user:s3cr3t-token"))
        outputs = []
        for flags in (["-v"], []):
            result = run_onefile("build", "--binary", "-n", *flags, str(project), "-o", str(tmp_path / "dist"), env=env)
            assert result.returncode == 0, redact(result.stderr)
            outputs.append(result.stdout + result.stderr)
    shown = f"http://***@127.0.0.1:{server.server_port}/simple"
    assert f"* index: {shown} (from PIP_INDEX_URL)" in outputs[1]
    binary = tmp_path / "dist" / "privateindex"
    inspected = run_onefile("inspect", str(binary), env=build_env())
    assert f"index-url {shown} (from PIP_INDEX_URL)" in inspected.stdout
    assert_private_six(binary, shown, "PIP_INDEX_URL")
    for text in [*outputs, inspected.stdout, json.dumps(inspect_json(binary))]:
        assert "s3cr3t" not in text
    assert b"s3cr3t" not in binary.read_bytes()


# -- offline --------------------------------------------------------------------------


@pytest.mark.integration
def test_offline_builds_from_a_warm_cache(tmp_path: Path) -> None:
    """With this machine's own settings, as a user would: once online, then --offline."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    environment.pop(ENV_REPORTED, None)
    online = run_onefile("build", "--binary", str(EXAMPLES / "hello"), "-o", str(tmp_path / "online"), env=environment)
    assert online.returncode == 0, online.stderr
    offline = run_onefile(
        "build", "--binary", "--offline", str(EXAMPLES / "hello"), "-o", str(tmp_path / "offline"), env=environment
    )
    assert offline.returncode == 0, offline.stderr
    assert "* offline: packages only from uv's cache and local directories (from UV_OFFLINE)" in offline.stderr
    assert (tmp_path / "offline" / "hello").read_bytes() == (tmp_path / "online" / "hello").read_bytes()


@pytest.mark.integration
def test_offline_names_the_first_package_it_does_not_have(tmp_path: Path) -> None:
    project = tmp_path / "needsmore"
    (project / "needsmore").mkdir(parents=True)
    (project / "needsmore" / "__init__.py").write_text("def main():\n    pass\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["onefile-backend"]\nbuild-backend = "onefile_backend"\n\n'
        '[project]\nname = "needsmore"\nversion = "1"\ndependencies = ["onefile-test-never-downloaded>=1"]\n'
        '[project.scripts]\nneedsmore = "needsmore:main"\n'
    )
    result = run_onefile("build", "--binary", "-n", "--offline", str(project), "-o", str(tmp_path / "dist"), env=build_env())
    assert result.returncode == 1
    (error,) = errors_of(result)
    assert error.startswith("ERROR offline (from UV_OFFLINE): onefile-test-never-downloaded is not in uv's cache"), error
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


# -- --from with pypi.org out of reach -----------------------------------------------


@pytest.fixture(scope="session")
def black_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """black 25.1.0 and its dependencies for this Python, as wheels copied from PyPI."""
    wheels = tmp_path_factory.mktemp("black-wheels")
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "-d", str(wheels), "black==25.1.0"],
        capture_output=True, text=True,
    )  # fmt: skip
    if download.returncode != 0:
        pytest.skip(f"cannot download black's wheels with pip: {download.stderr.strip()[-300:]}")
    return write_simple_index(tmp_path_factory.mktemp("black-index"), sorted(wheels.glob("*.whl")))


@pytest.mark.integration
def test_from_a_published_tool_with_pypi_out_of_reach(black_index: Path, tmp_path: Path) -> None:
    blocked = f"http://127.0.0.1:{closed_port()}"  # a proxy that refuses every connection
    with serve(black_index) as server:
        env = build_env(
            PIP_INDEX_URL=url_of(server),
            HTTPS_PROXY=blocked, HTTP_PROXY=blocked, ALL_PROXY=blocked,
            https_proxy=blocked, http_proxy=blocked, all_proxy=blocked,
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        )  # fmt: skip
        result = run_onefile("build", "--binary", "--from", "black==25.1.0", "--script", "black", "-o", str(tmp_path), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert any(path.startswith("/files/black-25.1.0") for path in server.requests)
    ran = subprocess.run([str(tmp_path / "black"), "--version"], capture_output=True, text=True)
    assert ran.returncode == 0 and "25.1.0" in ran.stdout, ran.stdout + ran.stderr
    facts = inspect_json(tmp_path / "black")
    assert facts["distributions"]["black"] == "25.1.0"
    assert facts["indexes"]["settings"][0] == {"setting": "index-url", "value": url_of(server), "from": "PIP_INDEX_URL"}


# -- reading the settings (no builds) -------------------------------------------------


def _home(tmp_path: Path) -> dict[str, str]:
    """An environment with a home and config dirs of its own (pip still reads /etc/pip.conf)."""
    (tmp_path / "home").mkdir(exist_ok=True)
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "etc")}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_pip_precedence_is_pips(tmp_path: Path) -> None:
    environ = _home(tmp_path)
    user = _write(tmp_path / "config" / "pip" / "pip.conf", "[global]\nindex-url = https://user.example/simple\n")
    _write(tmp_path / "etc" / "pip" / "pip.conf", "[install]\nextra-index-url = https://a.example/simple\n  https://b.example/simple\n")
    settings = read_index_settings(str(tmp_path), environ)
    assert settings.source == "pip"
    assert [(s.key, s.value, s.origin) for s in settings.settings] == [
        ("index-url", "https://user.example/simple", f"{user} [global]"),
        ("extra-index-url", "https://a.example/simple", f"{tmp_path}/etc/pip/pip.conf [install]"),
        ("extra-index-url", "https://b.example/simple", f"{tmp_path}/etc/pip/pip.conf [install]"),
    ]
    environment = settings.uv_environment()
    assert environment["UV_INDEX_URL"] == "https://user.example/simple"
    assert environment["UV_EXTRA_INDEX_URL"] == "https://a.example/simple https://b.example/simple"
    assert environment["UV_INDEX_STRATEGY"] == "unsafe-best-match"  # pip's best match across indexes
    # [install] beats [global] whatever the file; a variable beats both.
    _write(tmp_path / "etc" / "pip" / "pip.conf", "[install]\nindex-url = https://install.example/simple\n")
    assert read_index_settings(str(tmp_path), environ).settings[0].value == "https://install.example/simple"
    environ["PIP_INDEX_URL"] = "https://variable.example/simple"
    assert read_index_settings(str(tmp_path), environ).settings[0].origin == "PIP_INDEX_URL"
    # PIP_CONFIG_FILE, when it exists, replaces the user's files; /dev/null turns all files off.
    del environ["PIP_INDEX_URL"]
    chosen = _write(tmp_path / "chosen.conf", "[global]\nfind-links = /wheels\n")
    keys = [s.key for s in read_index_settings(str(tmp_path), {**environ, "PIP_CONFIG_FILE": str(chosen)}).settings]
    assert keys == ["index-url", "find-links"]  # index-url from [install] of the global file
    assert read_index_settings(str(tmp_path), {**environ, "PIP_CONFIG_FILE": os.devnull}).source == "pypi"


def test_uv_settings_win_over_pip_and_are_left_to_uv(tmp_path: Path) -> None:
    environ = {**_home(tmp_path), "PIP_INDEX_URL": "https://pip.example/simple"}
    project = tmp_path / "project"
    _write(project / "pyproject.toml", '[tool.uv]\nindex-url = "https://uv.example/simple"\n')
    settings = read_index_settings(str(project), environ)
    assert settings.source == "uv"
    assert [(s.key, s.origin) for s in settings.settings] == [("index-url", f"{project}/pyproject.toml [tool.uv]")]
    assert settings.uv_environment() == {"UV_WORKING_DIR": str(project)}  # uv reads its own file
    settings = read_index_settings(str(tmp_path), {**environ, "UV_INDEX": "private=https://u:p@uv.example/simple"})
    assert (settings.source, settings.settings[0].shown) == ("uv", "private=https://***@uv.example/simple")
    assert "UV_INDEX_URL" not in settings.uv_environment()


def test_a_bad_pip_conf_value_names_the_file(tmp_path: Path) -> None:
    environ = _home(tmp_path)
    conf = _write(tmp_path / "config" / "pip" / "pip.conf", "[global]\nindex-url = ftp://mirror/simple\n")
    with pytest.raises(IndexSettingError) as raised:
        read_index_settings(str(tmp_path), environ)
    assert str(raised.value).startswith(f"index-url ftp://mirror/simple (from {conf} [global]): not a URL")
    assert raised.value.origin == f"{conf} [global]"


def test_redact_removes_every_credential() -> None:
    text = "https://user:pass@host/simple and http://token@other/x, `https://a:b@c/d`"
    assert redact(text) == "https://***@host/simple and http://***@other/x, `https://***@c/d`"


def test_pip_files_are_merged_as_pip_merges_them(tmp_path: Path) -> None:
    """Against pip itself: ``pip config list`` (merged files, by section) in the same environment."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        **_home(tmp_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    _write(tmp_path / "etc" / "pip" / "pip.conf", "[global]\nindex-url = https://g.example/simple\nfind-links = /g\n[install]\nextra-index-url = https://i.example/simple\n")
    _write(tmp_path / "home" / ".pip" / "pip.conf", "[global]\nfind-links = /legacy\nindex-url = https://legacy.example/simple\n")
    _write(tmp_path / "config" / "pip" / "pip.conf", "[global]\nindex-url = https://u.example/simple\n")
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], env=environ, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"pip config list: {listed.stderr.strip()}")
    pips = dict(line.split("=", 1) for line in listed.stdout.splitlines())
    expected = {
        "index-url": pips["global.index-url"].strip("'"),
        "extra-index-url": pips["install.extra-index-url"].strip("'"),
        "find-links": pips["global.find-links"].strip("'"),
    }
    ours = {s.key: s.value for s in read_index_settings(str(tmp_path), environ).settings}
    assert ours == expected == {
        "index-url": "https://u.example/simple",
        "extra-index-url": "https://i.example/simple",
        "find-links": "/legacy",
    }
