"""docker/: the Dockerfile and compose.yaml are well-formed and run only commands and options the CLI has.

compose.yaml is read with PyYAML and interpolated with the values of docker/.env.example, the way
`docker compose --env-file docker/.env.example config` would; the Dockerfile is read instruction by instruction.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import typer
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"
IMAGE_SERVICES = ("dashboard", "create")  # besides the workers, the services that run the hpsearch image
DOCKERFILE_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip
# compose sets these instead of passing the options, so the options must read them.
ENV_OPTIONS = {"HPSEARCH_STORAGE": "--storage", "HPSEARCH_DATA_DIR": "--data-dir"}
REPO = DOCKER.parent
STORAGE_FROM_ENV = ("create", "worker", "dashboard")
DATA_DIR_FROM_ENV = ("create", "worker")


# --- reading the files --------------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}:{number}: not KEY=value: {line!r}"
        env[key] = value
    return env


_VARIABLE = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?+])([^}]*))?\}|(\w+))")


def interpolate(value, env: dict[str, str], used: set[str]):
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``$$`` in every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, env, used) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, used) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match[1]:
            return "$"
        name, operator, argument = match[2] or match[5], match[3], match[4]
        used.add(name)
        present, current = name in env, env.get(name, "")
        if operator == ":-":
            return current or argument
        if operator == "-":
            return current if present else argument
        if operator in (":?", "?"):
            assert current if operator == ":?" else present, f"${{{name}}} is required: {argument}"
            return current
        if operator in (":+", "+"):
            return argument if (current if operator == ":+" else present) else ""
        return current

    return _VARIABLE.sub(substitute, value)


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical, pending = pending + stripped, ""
        keyword, _, arguments = logical.partition(" ")
        instructions.append((keyword, arguments.strip()))
    assert not pending, "the Dockerfile ends in a line continuation"
    return instructions


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def mounts(service: dict) -> dict[str, str]:
    """Container path -> volume name or host path."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}


def option_value(argv: list[str], name: str) -> str | None:
    for i, token in enumerate(argv):
        if token == name and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(name + "="):
            return token.partition("=")[2]
    return None


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(DOCKER / ".env.example")


@pytest.fixture(scope="module")
def compose_raw() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(compose_raw, env_example) -> dict:
    return interpolate(compose_raw, env_example, set())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def workers(services) -> dict[str, dict]:
    return {name: s for name, s in services.items() if command(s)[:1] == ["worker"]}


@pytest.fixture(scope="module")
def hpsearch_services(services, workers) -> dict[str, dict]:
    return {**{name: services[name] for name in IMAGE_SERVICES}, **workers}


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKER / "Dockerfile")


@pytest.fixture(scope="module")
def cli():
    from hpsearch.cli import app  # no importorskip: these tests must fail while the CLI lacks what docker/ runs

    return typer.main.get_command(app)


# --- .env.example ---------------------------------------------------------------------------------------------


def test_env_example_documents_exactly_the_variables_compose_uses(compose_raw, env_example):
    used: set[str] = set()
    interpolate(compose_raw, env_example, used)
    assert used - env_example.keys() == set(), "compose.yaml uses variables .env.example does not set"
    assert env_example.keys() - used - {"COMPOSE_PROFILES"} == set(), ".env.example sets unused variables"


def test_every_env_example_variable_has_a_comment():
    # Paragraphs (blank-line separated) of assignments must each carry a comment.
    for paragraph in (DOCKER / ".env.example").read_text(encoding="utf-8").split("\n\n"):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if any(not line.startswith("#") for line in lines):
            assert any(line.startswith("#") for line in lines), f"undocumented: {paragraph!r}"


def test_env_example_profiles_and_model_exist(services, env_example):
    from hpsearch.search import PRESETS

    profiles = {profile for service in services.values() for profile in service.get("profiles", [])}
    wanted = [p for p in env_example["COMPOSE_PROFILES"].split(",") if p]
    assert wanted and set(wanted) <= profiles
    assert env_example["HPSEARCH_MODEL"] in PRESETS


# --- compose.yaml ---------------------------------------------------------------------------------------------


def test_postgres_is_pinned_healthchecked_and_persistent(compose, services):
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-[a-z0-9]+)?", postgres["image"]), postgres["image"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert mounts(postgres)["/var/lib/postgresql/data"] in compose["volumes"]
    assert environment(postgres)["POSTGRES_USER"] == "hpsearch"


def test_dashboard_binds_to_localhost_only(services):
    dashboard = services["dashboard"]
    assert command(dashboard)[0] == "dashboard"
    assert option_value(command(dashboard), "--host") == "0.0.0.0"  # inside the container; the port mapping limits it
    ports = [str(p) for p in dashboard["ports"]]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports
    assert [p.rsplit(":", 1)[1] for p in ports] == [option_value(command(dashboard), "--port")]


def test_each_worker_reserves_exactly_one_nvidia_gpu(workers, env_example):
    assert len(workers) >= 4
    host_ids = []
    for name, worker in workers.items():
        devices = worker["deploy"]["resources"]["reservations"]["devices"]
        assert len(devices) == 1, name
        (device,) = devices
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"], name
        assert "count" not in device and len(device["device_ids"]) == 1, name
        host_ids.append(str(device["device_ids"][0]))
        # The one reserved GPU is the container's only device, index 0, whichever host GPU it is.
        assert option_value(command(worker), "--gpu") == "0" and "--gpus" not in command(worker), name
        assert len(worker.get("profiles", [])) == 1, f"{name} must be selected by its own profile"
        assert "runtime" not in worker and "gpus" not in worker, name
    assert len(set(host_ids)) == len(host_ids), f"two workers share a GPU: {host_ids}"
    assert set(host_ids) == {env_example[f"GPU_{i}"] for i in range(len(workers))}


def test_services_wait_for_a_healthy_postgres(hpsearch_services):
    for name, service in hpsearch_services.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_create_is_a_one_shot_that_resumes(services, workers):
    create = services["create"]
    assert create["profiles"] == ["create"]
    argv = command(create)
    assert argv[0] == "create" and option_value(argv, "--if-exists") == "resume"
    studies = {option_value(command(w), "--study") for w in workers.values()}
    assert studies == {option_value(argv, "--study")}


def test_hpsearch_services_share_image_storage_and_volumes(compose, hpsearch_services):
    images = set()
    for name, service in hpsearch_services.items():
        images.add(service["image"])
        build = service["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile", name
        assert (DOCKER / build["context"]).resolve() == DOCKER.parent, f"{name}: build from the repository root"
        env = environment(service)
        assert not env.get("HPSEARCH_STORAGE"), f"{name}: the storage URL (with its password) is in the environment"
        assert env["HPSEARCH_STORAGE_FILE"] == "/run/secrets/storage_url", name
        assert "storage_url" in service["secrets"], name
        volumes = mounts(service)
        for target in ("/work/runs", "/work/artifacts", "/cache"):
            assert volumes[target] in compose["volumes"], f"{name}: {target} is not a named volume"
        assert "/work/data" in volumes, name
    assert len(images) == 1


# --- Dockerfile -----------------------------------------------------------------------------------------------


def test_dockerfile_instructions_are_valid(dockerfile):
    assert {keyword for keyword, _ in dockerfile} <= DOCKERFILE_INSTRUCTIONS
    assert all(keyword.isupper() for keyword, _ in dockerfile)
    keywords = [keyword for keyword, _ in dockerfile]
    assert keywords[0] in ("FROM", "ARG") and keywords.count("FROM") == 1


def test_dockerfile_base_image_is_a_pinned_python_without_cuda(dockerfile):
    # The CUDA torch wheel brings its own CUDA libraries: a CUDA base image would be a second copy.
    (image,) = [args.split()[0] for keyword, args in dockerfile if keyword == "FROM"]
    name, _, tag = image.partition(":")
    assert name == "python" and "slim" in tag and "cuda" not in image, image
    assert re.match(r"3\.11\.\d+-", tag), f"unpinned base image {image}"
    args = " ".join(args for keyword, args in dockerfile if keyword == "ARG")
    assert "TORCH_INDEX_URL=https://download.pytorch.org/whl/cu" in args


def test_dockerfile_runs_hpsearch_as_an_unprivileged_user(dockerfile):
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [json.loads(args) for keyword, args in dockerfile if keyword == "ENTRYPOINT"] == [["hpsearch"]]
    assert [json.loads(args) for keyword, args in dockerfile if keyword == "CMD"] == [["--help"]]


def test_dockerfile_installs_pinned_dependencies_before_the_code(dockerfile):
    steps = [(keyword, args) for keyword, args in dockerfile if keyword in ("COPY", "RUN")]
    copies = [i for i, (keyword, _) in enumerate(steps) if keyword == "COPY"]
    deps = next(i for i, (keyword, args) in enumerate(steps) if keyword == "RUN" and "-r constraints.txt" in args)
    package = next(i for i, (keyword, args) in enumerate(steps) if keyword == "RUN" and "--no-deps" in args)
    # Only the constraints file is copied before the dependencies are installed; the code after.
    assert [steps[i][1].split()[0] for i in copies if i < deps] == ["docker/constraints.txt"]
    assert deps < package and any(deps < i < package and "hpsearch" in steps[i][1] for i in copies)
    assert 'pip install --no-deps ".[postgres]"' in steps[package][1]
    assert all(". ." not in args for keyword, args in steps if keyword == "COPY"), "COPY . . invalidates the deps"


def test_constraints_pin_everything_the_image_installs():
    pins = {}
    for line in (DOCKER / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.+-]+", version), f"not pinned: {line!r}"
            pins[name.lower()] = version
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*pyproject["project"]["dependencies"], *pyproject["project"]["optional-dependencies"]["postgres"]]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in docker/constraints.txt"
    assert "+" not in pins["torch"], "pin torch without a local tag: the CUDA index adds its own (+cu128)"


def test_secrets_are_ignored_by_git_and_docker():
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "docker/.env" in ignored and "docker/secrets/" in ignored
    context_ignored = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "docker/.env" in context_ignored and "docker/secrets" in context_ignored


def test_compose_passes_passwords_as_secret_files(compose, services, env_example):
    assert not any("PASSWORD" in key for key in env_example), "a password in .env"
    files = {name: secret["file"] for name, secret in compose["secrets"].items()}
    assert all(path.startswith("./secrets/") for path in files.values()), files
    postgres = environment(services["postgres"])
    assert "POSTGRES_PASSWORD" not in postgres
    assert postgres["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_workers_restart_on_failure_a_limited_number_of_times(workers):
    for name, worker in workers.items():
        policy, _, limit = worker["restart"].partition(":")
        assert policy == "on-failure" and limit.isdigit() and 1 <= int(limit) <= 10, f"{name}: {worker['restart']}"


def test_dockerfile_environment_and_volumes(dockerfile):
    env = {}
    for keyword, args in dockerfile:
        if keyword == "ENV":
            env.update(item.partition("=")[::2] for item in shlex.split(args))
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "HF_HOME" in env and "HPSEARCH_STORAGE" not in env  # it would override HPSEARCH_STORAGE_FILE
    # No VOLUME: each container would leave an anonymous volume; compose mounts named ones.
    assert not [args for keyword, args in dockerfile if keyword == "VOLUME"]
    workdirs = [args for keyword, args in dockerfile if keyword == "WORKDIR"]
    assert workdirs[-1] == "/work"


def test_volumes_are_named(compose, hpsearch_services):
    for name, service in hpsearch_services.items():
        for target in ("/work/runs", "/work/artifacts", "/cache"):
            assert mounts(service)[target] in compose["volumes"], f"{name}: {target}"


# --- the commands they run exist in the CLI -------------------------------------------------------------------


def choices(param) -> set[str] | None:
    """An option's allowed values, None if any. Typer's bundled Click keeps them in ``type_descriptor``."""
    holder = getattr(param, "type_descriptor", None) or getattr(param, "type", None)
    values = getattr(holder, "choices", None)
    return {str(getattr(value, "value", value)) for value in values} if values else None


def check_invocation(cli, argv: list[str], env: dict[str, str]) -> None:
    """Fail unless ``hpsearch *argv`` names a subcommand and options it has, with valid choices."""
    if argv == ["--help"]:
        return
    assert argv, "no command"
    subcommand, *args = argv
    assert subcommand in cli.commands, f"hpsearch has no subcommand {subcommand!r}: {sorted(cli.commands)}"
    cmd = cli.commands[subcommand]
    options = {}
    for param in cmd.params:
        if param.param_type_name == "option":
            options.update(dict.fromkeys([*param.opts, *param.secondary_opts], param))
    given, positional, tokens = set(), 0, iter(args)
    for token in tokens:
        if not token.startswith("-"):
            positional += 1
            continue
        name, has_value, value = token.partition("=")
        if name == "--help":
            continue
        assert name in options, f"`hpsearch {subcommand}` has no option {name}: {sorted(options)}"
        param = options[name]
        given.add(param.name)
        if param.is_flag or getattr(param, "count", False):
            continue
        if not has_value:
            value = next(tokens, None)
            assert value is not None, f"`hpsearch {subcommand} {name}` lacks its value"
        allowed = choices(param)
        if allowed:
            assert value in allowed, f"`hpsearch {subcommand} {name} {value}`: not one of {sorted(allowed)}"
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    assert positional <= len(arguments), f"`hpsearch {' '.join(argv)}`: too many arguments"
    for param in cmd.params:
        envvars = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
        if param.required and param.name not in given:
            assert any(env.get(v) for v in envvars), f"`hpsearch {subcommand}` needs {param.opts[0]}"


def option_envvars(cli, subcommand: str, option: str) -> list[str]:
    for param in cli.commands[subcommand].params:
        if option in param.opts:
            return [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
    raise AssertionError(f"`hpsearch {subcommand}` has no option {option}")


def test_compose_runs_only_existing_commands_and_options(cli, hpsearch_services):
    for service in hpsearch_services.values():
        check_invocation(cli, command(service), environment(service))


def test_the_storage_option_reads_the_secret_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hpsearch.cli import app

    secret = tmp_path / "storage-url"
    secret.write_text(f"sqlite:///{tmp_path}/missing.db\n")
    secret.chmod(0o600)
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    monkeypatch.setenv("HPSEARCH_STORAGE_FILE", str(secret))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2 and "missing.db" in result.output  # the URL from the file was used
    secret.chmod(0o644)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2 and "chmod 600" in result.output and len(result.output.strip().splitlines()) == 1


def test_commands_read_what_compose_passes_in_the_environment(cli, hpsearch_services):
    for name, service in hpsearch_services.items():
        subcommand, env = command(service)[0], environment(service)
        for var, option in ENV_OPTIONS.items():
            relied_on = subcommand in (STORAGE_FROM_ENV if var == "HPSEARCH_STORAGE" else DATA_DIR_FROM_ENV)
            if var in env and relied_on and option_value(command(service), option) is None:
                assert var in option_envvars(cli, subcommand, option), f"{name}: {option} does not read {var}"


def test_dockerfile_default_command_exists(cli, dockerfile):
    (cmd,) = [json.loads(args) for keyword, args in dockerfile if keyword == "CMD"]
    check_invocation(cli, cmd, {})
