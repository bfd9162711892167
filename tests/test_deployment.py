"""The dashboard's own deployment (Dockerfile, .dockerignore, compose.yaml, scripts/compose-secrets), checked without
building or running an image: no base image can be pulled here. What can run here does: the commands each service
runs, the files the image holds (served from a copy of just those), the web healthcheck against that, the registry's
start script with both real registries, and `docker compose config` where the compose plugin is installed.

The person here is an operator who copies compose.yaml to a server and types `docker compose up`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import resolve

from archviz import views
from archviz.hooks import HOOK_PATH
from dashboard.env import database_from_url
from tests.conftest import ROOT, dashboard_env, free_port, webhook_dashboard

COMPOSE_TEXT = (ROOT / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
IMAGE = "archviz:latest"
ARCHVIZ_SERVICES = sorted(name for name, service in SERVICES.items() if service.get("image") == IMAGE)
README = (ROOT / "README.md").read_text()


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (KEYWORD, arguments), continuation lines joined and comments left out."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                                            if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def instruction(keyword: str) -> list[str]:
    return [arguments for name, arguments in dockerfile() if name == keyword]


def entrypoint() -> list[str]:
    (arguments,) = instruction("ENTRYPOINT")
    return json.loads(arguments)


def settings_table() -> dict[str, str]:
    """README's Settings table: variable -> its row."""
    section = README.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|(.*)$", section, re.MULTILINE))


def documented(name: str) -> bool:
    table = settings_table()
    if name in table:
        return True
    base = name.removesuffix("_FILE")
    return name.endswith("_FILE") and base in table and f"`{name}`" in table[base]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build: as Docker decides, the last pattern that matches the path
    or a folder above it wins, and `!` lets it back in."""
    parts = path.strip("/").split("/")
    above = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    verdict = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern = line.removeprefix("!").rstrip("/")
        forms = (pattern, pattern.removeprefix("**/"))
        if any(fnmatch.fnmatchcase(candidate, form) for candidate in above for form in forms):
            verdict = not line.startswith("!")
    return verdict


def copied() -> list[str]:
    """What the Dockerfile copies into the image, as paths relative to the checkout."""
    sources = []
    for arguments in instruction("COPY"):
        *from_checkout, _ = arguments.split()
        sources += from_checkout
    return sources


# The services ---------------------------------------------------------------------------------------------------

def test_the_services_are_two_web_processes_a_watcher_a_one_shot_migration_postgresql_redis_and_a_registry() -> None:
    assert set(SERVICES) == {"migrate", "web", "watcher", "postgres", "redis", "registry"}
    assert ARCHVIZ_SERVICES == ["migrate", "watcher", "web"]
    assert SERVICES["web"]["deploy"]["replicas"] == 2
    assert SERVICES["registry"]["image"] in ("registry:2", "registry:3")
    for name in SERVICES:
        assert f"`{name}`" in README.split("\n## Deployment\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", [*ARCHVIZ_SERVICES, "the image's default"])
def test_each_archviz_service_runs_a_real_manage_py_command_with_options_it_takes(name: str) -> None:
    assert entrypoint() == ["python", "manage.py"]
    (default,) = instruction("CMD")
    command = SERVICES[name]["command"] if name in SERVICES else json.loads(default)
    commands = get_commands()
    assert command[0] in commands, f"{name}: manage.py has no command {command[0]!r}"
    parser = load_command_class(commands[command[0]], command[0]).create_parser("manage.py", command[0])
    parser.parse_args(command[1:])  # CommandError for an option the command does not take


def test_the_web_processes_serve_without_a_watcher_and_the_watcher_serves_only_its_metrics_unpublished() -> None:
    assert "--no-watch" in SERVICES["web"]["command"]
    assert SERVICES["watcher"]["command"] == ["watch", "--metrics", "0.0.0.0:9100", "--metrics-off-loopback"]
    assert "ports" not in SERVICES["watcher"]


def test_only_the_watcher_holds_the_docker_socket_and_read_only() -> None:
    holders = {name: volume for name, service in SERVICES.items() for volume in service.get("volumes", [])
               if "docker.sock" in volume}
    assert list(holders) == ["watcher"]
    assert holders["watcher"].endswith(":/var/run/docker.sock:ro")
    assert SERVICES["watcher"]["group_add"] == ["${DOCKER_GID:-999}"]


def test_migrations_run_once_before_the_web_processes_and_the_watcher_start() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "watcher"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert SERVICES[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert {"postgres", "redis", "web"} <= {name for name, service in SERVICES.items() if "healthcheck" in service}


# Settings and secrets -------------------------------------------------------------------------------------------

def test_every_archviz_variable_given_to_a_process_is_a_documented_setting() -> None:
    given = {name for name in ARCHVIZ_SERVICES for name in SERVICES[name]["environment"]}
    given |= set(re.findall(r"\$\{(ARCHVIZ_[A-Z0-9_]+)", COMPOSE_TEXT))
    given |= {name for arguments in instruction("ENV") for name in re.findall(r"\b(ARCHVIZ_[A-Z0-9_]+)=", arguments)}
    assert {"ARCHVIZ_SECRET_KEY_FILE", "ARCHVIZ_REGISTRY_TOKEN_FILE", "ARCHVIZ_DATA_DIR", "DATABASE_URL_FILE"} <= given
    undocumented = sorted(name for name in given
                          if name.startswith(("ARCHVIZ_", "DATABASE_URL", "REDIS_URL")) and not documented(name))
    assert undocumented == []


def test_what_the_operator_may_set_in_dot_env_is_said_in_the_deployment_section() -> None:
    deployment = README.split("\n## Deployment\n", 1)[1].split("\n## ", 1)[0]
    for name in set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", COMPOSE_TEXT)):
        assert f"`{name}`" in deployment, name


def test_each_secret_is_a_file_mounted_only_where_it_is_read() -> None:
    declared = COMPOSE["secrets"]
    assert all(secret == {"file": f"./secrets/{name}"} for name, secret in declared.items())
    for name, service in SERVICES.items():
        environment = service.get("environment", {})
        read = {value.removeprefix("/run/secrets/") for key, value in environment.items()
                if key.endswith("_FILE") and value.startswith("/run/secrets/")}
        assert read == set(service.get("secrets", [])), name
        assert read <= set(declared)
        # A secret itself is never a value here.
        for key in ("ARCHVIZ_SECRET_KEY", "ARCHVIZ_REGISTRY_TOKEN", "DATABASE_URL", "POSTGRES_PASSWORD"):
            assert key not in environment, (name, key)
    assert SERVICES["registry"]["environment"]["TOKEN_FILE"] == SERVICES["web"]["environment"][
        "ARCHVIZ_REGISTRY_TOKEN_FILE"]


def test_scripts_compose_secrets_makes_each_secret_once(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "compose-secrets"
    subprocess.run([script, tmp_path], check=True, capture_output=True)
    folder = tmp_path / "secrets"
    assert folder.stat().st_mode & 0o777 == 0o700
    made = {path.name: path.read_text().strip() for path in folder.iterdir()}
    assert set(made) == set(COMPOSE["secrets"])
    assert all(len(value) >= 32 and (folder / name).stat().st_mode & 0o777 == 0o644 for name, value in made.items())
    database = database_from_url(made["database_url"])
    assert (database["USER"], database["PASSWORD"], database["HOST"], database["NAME"]) == (
        "archviz", made["postgres_password"], "postgres", "archviz")
    postgres = SERVICES["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("archviz", "archviz")
    assert re.fullmatch(r"DOCKER_GID=\d+\n", (tmp_path / ".env").read_text())

    again = subprocess.run([script, tmp_path], check=True, capture_output=True, text=True)
    assert again.stdout == ""
    assert {path.name: path.read_text().strip() for path in folder.iterdir()} == made


# The image ------------------------------------------------------------------------------------------------------

def test_the_dockerfile_copies_what_exists_and_the_build_context_holds_nothing_else() -> None:
    assert copied() == ["pyproject.toml", "manage.py", "dashboard/", "archviz/", "templates/", "static/"]
    for source in copied():
        assert (ROOT / source).exists(), source
        assert not ignored(source), f".dockerignore keeps {source} out of the build"
    for kept_out in ("secrets/database_url", ".env", "var/secret_key", ".venv/bin/python", ".git/config",
                     "tests/conftest.py", "archviz/__pycache__/views.cpython-311.pyc", "README.md"):
        assert ignored(kept_out), f".dockerignore lets {kept_out} into the build"


def test_the_image_runs_the_python_the_project_asks_for() -> None:
    (base,) = instruction("FROM")
    version = re.fullmatch(r"python:3\.(\d+)-slim-bookworm", base)
    assert version is not None and int(version.group(1)) >= 11
    assert "USER archviz" in [f"{name} {arguments}" for name, arguments in dockerfile()]


def test_the_dockerfile_installs_exactly_the_projects_dependencies(tmp_path: Path) -> None:
    (install,) = instruction("RUN")[1:]
    listing = install.split(" && ")[0]  # python -c "…" > /tmp/requirements.txt, run here by the shell as in the build
    assert listing.startswith("python -c ")
    requirements = tmp_path / "requirements.txt"
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    subprocess.run(["/bin/sh", "-c", sys.executable + listing.removeprefix("python").replace(
        "/tmp/requirements.txt", str(requirements))], cwd=tmp_path, check=True)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert requirements.read_text().splitlines() == dependencies


def image_files(into: Path) -> Path:
    """A copy of what the image holds under /app: the Dockerfile's COPY sources, less what .dockerignore keeps out."""
    for source in copied():
        origin = ROOT / source
        if origin.is_file():
            shutil.copy(origin, into / source)
        else:
            shutil.copytree(origin, into / source, ignore=lambda folder, names: [
                name for name in names if ignored(str((Path(folder) / name).relative_to(ROOT)))])
    return into


def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The web service's healthcheck command, run here against `port`."""
    test = SERVICES["web"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    command = [sys.executable, *[part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in test[2:]]]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def test_the_healthcheck_asks_a_probe_of_the_dashboard() -> None:
    (url,) = re.findall(r"http://127\.0\.0\.1:8000(/\S*?)'", " ".join(SERVICES["web"]["healthcheck"]["test"]))
    assert resolve(url).func in (views.health, views.readyz)


def web_environment(tmp_path: Path) -> dict[str, str]:
    """The web service's environment, as compose fills it in with nothing set in .env, its secrets made by
    scripts/compose-secrets under `tmp_path`. Only the parts that do not run here differ: the database is a SQLite
    file (`tmp_path/store.sqlite3`, still read from DATABASE_URL_FILE), and there is no Redis."""
    subprocess.run([ROOT / "scripts" / "compose-secrets", tmp_path], check=True, capture_output=True)
    (tmp_path / "secrets" / "database_url").write_text(f"sqlite:///{tmp_path}/store.sqlite3\n")
    environment = {name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value).replace("/run/secrets/", f"{tmp_path}/secrets/")
                   for name, value in SERVICES["web"]["environment"].items() if name != "REDIS_URL"}
    return environment | {"PYTHONDONTWRITEBYTECODE": "1"}


def test_the_images_files_serve_with_the_web_services_settings_and_pass_its_healthcheck(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    image_files(app)
    env = dashboard_env(tmp_path / "data", f"unix://{tmp_path}/no-daemon.sock") | web_environment(tmp_path)
    where = subprocess.run([sys.executable, "-c", "import archviz; print(archviz.__file__)"], cwd=app, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert where == str(app / "archviz" / "__init__.py")  # the copy runs, not the checkout
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=app, env=env, check=True)
    port = free_port()
    assert healthcheck(port).returncode != 0  # nothing answers yet
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--no-watch"], cwd=app,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while healthcheck(port).returncode != 0:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        for path in ("/login/", "/static/archviz/archviz.css", "/static/archviz/live.js"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                assert answer.status == 200, path
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.url == f"http://127.0.0.1:{port}/login/?next=/"  # the service requires a login
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert (tmp_path / "store.sqlite3").is_file()  # DATABASE_URL_FILE was read
    assert not (tmp_path / "data" / "secret_key").exists()  # and ARCHVIZ_SECRET_KEY_FILE


# The registry ---------------------------------------------------------------------------------------------------

def registry_script() -> str:
    """The registry service's start script, as the shell gets it (compose turns `$$` into `$`)."""
    entry = SERVICES["registry"]["entrypoint"]
    assert entry[:2] == ["/bin/sh", "-c"]
    assert not re.search(r"(?<!\$)\$(?!\$)", entry[2].replace("$$", "")), "a ${…} compose would fill in"
    return entry[2].replace("$$", "$")


REGISTRIES = {"distribution 2.8 (Debian's docker-registry)": shutil.which("docker-registry"),
              "distribution 3.1": str(ROOT.parent / "shared" / "bin" / "registry-v3")}


def test_the_registry_notifies_the_web_service_at_the_webhook_path() -> None:
    environment = SERVICES["registry"]["environment"]
    assert environment["WEBHOOK"] == f"http://web:8000{HOOK_PATH}"
    assert "url: $WEBHOOK" in registry_script()
    assert "headers: {Authorization: [Bearer $(cat \"$TOKEN_FILE\")]}" in registry_script()


def push_blob(address: str, repository: str) -> None:
    """A blob upload, as a client pushes one layer: POST for an upload, then PUT its bytes with their digest."""
    import hashlib

    data = repository.encode()
    start = urllib.request.Request(f"http://{address}/v2/{repository}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(start, timeout=10) as answer:
        location = answer.headers["Location"]
    location = location if location.startswith("http") else f"http://{address}{location}"
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    put = urllib.request.Request(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=data,
                                 method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(put, timeout=10) as answer:
        assert answer.status == 201


@contextlib.contextmanager
def registry_as_compose_starts_it(binary: str, folder: Path, webhook: str, token_file: Path) -> Iterator[str]:
    """The registry service's start script, run here by the shell with `binary` as its `registry`; yields its
    address. Where compose would publish it and its volume: a free port and a folder of the test's."""
    (folder / "bin").mkdir()
    (folder / "bin" / "registry").symlink_to(binary)
    address = f"127.0.0.1:{free_port()}"
    env = {"PATH": f"{folder / 'bin'}:{os.environ['PATH']}", "TMPDIR": str(folder), "WEBHOOK": webhook,
           "TOKEN_FILE": str(token_file), "REGISTRY_HTTP_ADDR": address,
           "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(folder / "storage")}
    log = folder / "registry.log"
    with log.open("wb") as output:
        registry = subprocess.Popen(["/bin/sh", "-c", registry_script()], env=env, stdout=output,
                                    stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert registry.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not answer"
                time.sleep(0.1)
        yield address
    finally:
        registry.terminate()
        registry.wait(timeout=10)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


@pytest.mark.parametrize("binary", REGISTRIES.values(), ids=REGISTRIES.keys())
def test_the_registry_started_as_compose_starts_it_reaches_the_dashboard_with_the_shared_token(
        tmp_path: Path, binary: str | None) -> None:
    if binary is None or not Path(binary).is_file():
        pytest.skip(f"no such registry here ({binary}): ./scripts/test installs Debian's docker-registry; "
                    "distribution 3.1 is in ../shared/bin")
    subprocess.run([ROOT / "scripts" / "compose-secrets", tmp_path], check=True, capture_output=True)
    token_file = tmp_path / "secrets" / "registry_token"
    (tmp_path / "registry").mkdir()
    # The web processes read the token from its file, which wins over one given directly.
    with webhook_dashboard(tmp_path / "data", "not-the-shared-one", {
            "ARCHVIZ_REGISTRY_TOKEN_FILE": str(token_file)}) as url, registry_as_compose_starts_it(
            binary, tmp_path / "registry", f"{url}{HOOK_PATH}", token_file) as address:
        push_blob(address, "compose/wired")
        deadline = time.monotonic() + 20
        events: list[dict] = []
        while not events and time.monotonic() < deadline:
            events = get_json(f"{url}/api/registry/events/?repository=compose/wired")["events"]
            time.sleep(0.1)
        assert [(event["action"], event["repository"]) for event in events] == [("push", "compose/wired")]
        assert get_json(f"{url}/api/registry/refusals/")["refusals"] == []
    # The configuration it wrote at start holds the token: readable by its owner only.
    (config,) = (tmp_path / "registry").glob("tmp.*")
    assert token_file.read_text().strip() in config.read_text()
    assert config.stat().st_mode & 0o777 == 0o600


# docker compose -------------------------------------------------------------------------------------------------

# Each program that reads a compose file as Docker does, and how to ask it for its version.
COMPOSE_PROGRAMS = {
    "docker compose (the plugin)": ["docker", "compose"],
    # Debian's docker-compose 1.29 (./scripts/test installs it): it checks the file against the compose schema it
    # ships, so a misspelled key fails here too where the plugin is absent.
    "docker-compose (Debian's, 1.29)": ["docker-compose"],
}


def missing_program(program: list[str]) -> str:
    """Why this compose program cannot check the file here, or "" when it can."""
    if shutil.which(program[0]) is None:
        return f"no {program[0]} here"
    if subprocess.run([*program, "version"], capture_output=True).returncode != 0:
        return (f"{' '.join(program)} does not run here (Debian bookworm packages no compose plugin; "
                "docker-compose-plugin comes from Docker's own repository)")
    return ""


@pytest.mark.parametrize("program", COMPOSE_PROGRAMS.values(), ids=COMPOSE_PROGRAMS.keys())
def test_docker_compose_reads_the_file_as_written(tmp_path: Path, program: list[str]) -> None:
    if missing_program(program):
        pytest.skip(missing_program(program))
    shutil.copy(ROOT / "compose.yaml", tmp_path)
    subprocess.run([ROOT / "scripts" / "compose-secrets", tmp_path], check=True, capture_output=True)
    result = subprocess.run([*program, "--file", tmp_path / "compose.yaml", "config", "--quiet"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
