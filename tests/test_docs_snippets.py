"""Every fenced code block in docs/*.md is executed or validated (see docs/contributing.md).

- ``python``: executed in a fresh interpreter (``imports-only`` marker: only its imports run);
- ``yaml``: a pipeline config is validated by ``parse_config`` (a partial one over the page's
  context config), a compose fragment against docker-compose.yaml, CI steps' ``run:`` as shell;
- ``json``: parsed; a report round-trips through ``Report``, a connection through Airflow, a
  DAG run ``conf`` is validated by the params of the context config's DAG;
- ``bash`` / ``sh`` / ``console``: each command is checked by what runs it (``secretsync``
  argument parsing, and ``validate`` / ``plan`` / ``pipeline --dry-run`` really run; Makefile
  targets, extras, ``AIRFLOW_CONN_*`` values, compose services, ``airflow`` CLI parsing...);
- ``text``: output and grammar, never code.

Commands and Python run in a work directory holding ``pipeline.yaml`` (the page's last complete
pipeline config before the block, else ``dags/configs/example.yaml``) and a ``dags`` link to the
repo's, with Airflow's connections pointing at this module's own OpenBao and moto servers
(sharing no state with other tests'); Python blocks and ``secretsync`` run as subprocesses.
A block opts out only through ``<!-- snippet: skip REASON -->`` right above its fence.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
import yaml

from airflow_secretsync.config import parse_config
from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.core.report import Report
from airflow_secretsync.errors import ConfigError
from devtools.isolated_servers import isolated_servers
from devtools.paths import REPO
from devtools.seed import seed_example
from devtools.servers import LocalServers, github_connection_uri, kubernetes_connection_uri

DOCS = REPO / "docs"
EXAMPLE = REPO / "dags" / "configs" / "example.yaml"
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<kind>\S+)\s*(?P<reason>.*?)\s*-->$")
MARKER_KINDS = {"skip", "imports-only"}
NOT_CODE = {"text"}
CONFIG_KEYS = set(PipelineConfig.model_fields) - {"source_file"}
NAMED_MAPS = {"connections", "sources", "targets", "step_secrets"}
DAG_PARAMS = {"dry_run", "targets", "mode", "fail_on_changes"}
ROLLBACK_PARAMS = {"run_id", "dry_run", "targets"}
#: Where the docs' deployment paths live in this repository.
PATH_ALIASES = {"/opt/airflow/dags/": f"{REPO}/dags/"}


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    lang: str
    code: str
    marker: str | None
    reason: str
    context_config: str  # the pipeline config the block is read against

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def is_full_config(data: object) -> bool:
    return isinstance(data, dict) and "version" in data and set(data) <= CONFIG_KEYS


def is_partial_config(data: object) -> bool:
    return isinstance(data, dict) and bool(data) and set(data) <= CONFIG_KEYS


@dataclass(frozen=True)
class Fence:
    start: int  # index of the opening fence line
    end: int  # index of the closing fence line
    indent: int
    info: str


def fences(lines: list[str]) -> Iterator[Fence]:
    """The fenced blocks of a page (backticks or tildes, possibly indented in a list)."""
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence = match["fence"]
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and not lines[end].strip().strip(fence[0])
        ):
            end += 1
        yield Fence(index, end, len(match["indent"]), match["info"].strip())
        index = end + 1


def extract(path: Path) -> Iterator[Snippet]:
    """Fenced code blocks of a MyST page (directive blocks such as ``{toctree}`` excluded)."""
    lines = path.read_text().splitlines()
    context = EXAMPLE.read_text()
    for block in fences(lines):
        code = "\n".join(line[block.indent :] for line in lines[block.start + 1 : block.end])
        above = next((line for line in reversed(lines[: block.start]) if line.strip()), "")
        marker = MARKER.match(above.strip())
        lang = block.info.split()[0].lower() if block.info else ""
        if lang.startswith("{"):
            continue
        kind, reason = (marker["kind"], marker["reason"]) if marker else (None, "")
        yield Snippet(path.name, block.start + 1, lang, code + "\n", kind, reason, context)
        if lang in ("yaml", "yml") and kind != "skip":
            context = next_context(context, yaml.safe_load(code))


def next_context(context: str, data: object) -> str:
    """The page's context config after a YAML block: a complete config replaces it, a partial
    one is laid over it (entries of named maps by name, other sections whole)."""
    if is_full_config(data):
        return yaml.safe_dump(data, sort_keys=False)
    if is_partial_config(data):
        merged = yaml.safe_load(context)
        for key, value in data.items():
            if key in NAMED_MAPS and isinstance(value, dict):
                merged[key] = {**(merged.get(key) or {}), **value}
            else:
                merged[key] = value
        return yaml.safe_dump(merged, sort_keys=False)
    return context


PAGES = sorted(DOCS.glob("*.md"))
SNIPPETS = [snippet for page in PAGES for snippet in extract(page)]
CHECKED = [s for s in SNIPPETS if s.marker != "skip" and s.lang not in NOT_CODE]


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    """What `make docs` does, so CI (`make test`) builds the docs too."""
    sphinx = Path(sys.executable).with_name("sphinx-build")
    build = [str(sphinx), "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path)]
    result = subprocess.run(build, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ui.html").exists()
    assert (tmp_path / "_images" / "ui-trigger-form.png").exists()


def test_the_docs_have_code_to_check() -> None:
    langs = {s.lang for s in CHECKED}
    assert {"python", "yaml", "bash", "json"} <= langs


def marker_problems(page: Path) -> list[str]:
    """Markers outside code blocks that are malformed, unexplained or above no code block."""
    marked = {s.line for s in extract(page) if s.marker}
    lines = page.read_text().splitlines()
    inside = {n for b in fences(lines) for n in range(b.start, b.end + 1)}
    problems = []
    for index, line in enumerate(lines):
        if index in inside or not re.match(r"\s*<!--\s*snippet:", line):
            continue
        where = f"{page.name}:{index + 1}"
        match = MARKER.match(line.strip())
        below = next((n for n in range(index + 1, len(lines)) if lines[n].strip()), None)
        if not match:
            problems.append(f"{where}: malformed marker")
        elif match["kind"] not in MARKER_KINDS:
            problems.append(f"{where}: unknown marker kind {match['kind']!r}")
        elif len(match["reason"].split()) < 3:
            problems.append(f"{where}: say why, in three words or more")
        elif below is None or below + 1 not in marked:
            problems.append(f"{where}: no code block right below")
    return problems


def test_markers_sit_on_code_blocks_and_say_why() -> None:
    assert [p for page in PAGES for p in marker_problems(page)] == []


def test_bad_markers_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- snippet: skip -->\n```python\npass\n```\n"
        "<!-- snippet: ignore because it is slow -->\n```python\npass\n```\n"
        "<!-- snippet: skip it needs a cluster -->\n\nSome prose.\n"
        "<!-- snippet: skip missing the closing\n```python\npass\n```\n"
        "```text\n<!-- snippet: skip inside a block is fine -->\n```\n"
    )
    assert marker_problems(page) == [
        "page.md:1: say why, in three words or more",
        "page.md:5: unknown marker kind 'ignore'",
        "page.md:9: no code block right below",
        "page.md:12: malformed marker",
    ]


def test_every_block_names_a_language_the_checks_know() -> None:
    unknown = [f"{s.id} ({s.lang or 'no language'})" for s in CHECKED if s.lang not in CHECKERS]
    assert not unknown, f"add a checker or use `text` for non-code: {unknown}"


# --- the work directory -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """Where a block runs: a work directory and Airflow connections at the local servers."""

    path: Path
    servers: LocalServers
    env: pytest.MonkeyPatch


@pytest.fixture(scope="module")
def docs_servers() -> Iterator[LocalServers]:
    """OpenBao, moto and the GitHub and Kubernetes API servers for this module alone, seeded
    with the example: the docs use fixed
    locations (``secret/prod``, ``staging/``...) that other tests' runs may fill."""
    with isolated_servers() as running:
        seed_example(running)
        yield running


@pytest.fixture
def workdir(tmp_path: Path, docs_servers: LocalServers, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    for key, value in docs_servers.airflow_env().items():
        monkeypatch.setenv(key, value)
    # Every AWS client the docs' code makes, STS for an assumed role included, talks to moto.
    monkeypatch.setenv("AWS_ENDPOINT_URL", docs_servers.aws.url)
    (tmp_path / "dags").symlink_to(REPO / "dags")
    monkeypatch.chdir(tmp_path)
    return Sandbox(tmp_path, docs_servers, monkeypatch)


def with_context(snippet: Snippet, box: Sandbox, named: list[str]) -> None:
    """``pipeline.yaml``, and each relative YAML path the block names that is not in the
    repository, hold the block's context config; every store of that config can connect."""
    for name in {"pipeline.yaml", *named}:
        path = (box.path / name).resolve()
        inside = path.is_relative_to(box.path.resolve())
        if name.endswith((".yaml", ".yml")) and inside and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet.context_config)
    try:
        config = parse_config(snippet.context_config, snippet.id)
    except ConfigError:
        return
    servers = box.servers
    uris = {
        "vault": servers.vault.connection_uri(),
        "aws": servers.aws.connection_uri(),
        "s3": servers.aws.connection_uri(),
        "github": github_connection_uri(servers.github),
        "kubernetes": kubernetes_connection_uri(servers.kubernetes),
    }
    for store in config_stores(config):
        kind = store.scope().kind
        if kind in uris:  # gcp and http have no server here: their blocks are validated only
            box.env.setenv(f"AIRFLOW_CONN_{store.connection_id.upper()}", uris[kind])
    s3_merge_store = config.merge_store.s3 if config.merge_store else None
    if s3_merge_store:  # the docs assume the merge store's bucket exists
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")  # at moto: AWS_ENDPOINT_URL
        if s3_merge_store.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=s3_merge_store.bucket)


def config_stores(config: PipelineConfig) -> list:
    """Every store location of a config (merge store, sources, destinations)."""
    stores = [config.merge_store.store] if config.merge_store else []
    stores += [source.store for source in config.sources.values()]
    return stores + [t.destination for t in config.targets.values() if t.destination]


# --- python -----------------------------------------------------------------------------------


#: Runs a block read from stdin as the module ``docs_snippet`` of a DAG file in ``dags/``.
PYTHON_RUNNER = (
    "import sys; source = sys.stdin.read(); "
    "namespace = {'__name__': 'docs_snippet', '__file__': sys.argv[2]}; "
    "exec(compile(source, sys.argv[1], 'exec'), namespace)"
)


def check_python(snippet: Snippet, workdir: Sandbox) -> None:
    """Run in a fresh interpreter, like a user's script: no state shared with other tests."""
    source = snippet.code
    for alias, real in PATH_ALIASES.items():
        source = source.replace(alias, real)
    tree = ast.parse(source, snippet.id)
    if snippet.marker == "imports-only":
        tree.body = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
        assert tree.body, f"{snippet.id}: imports-only, but it imports nothing"
        source = ast.unparse(tree)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    with_context(snippet, workdir, [s for s in strings if isinstance(s, str)])
    dag_file = str(REPO / "dags" / "snippet.py")
    run = [sys.executable, "-c", PYTHON_RUNNER, snippet.id, dag_file]
    result = subprocess.run(run, input=source, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{snippet.id} raised:\n{result.stderr[-3000:]}"


# --- yaml -------------------------------------------------------------------------------------


def check_yaml(snippet: Snippet, workdir: Sandbox) -> None:
    data = yaml.safe_load(snippet.code)
    if is_full_config(data):
        parse_config(snippet.code, snippet.id)
    elif is_partial_config(data):
        parse_config(next_context(snippet.context_config, data), snippet.id)
    elif isinstance(data, dict) and "services" in data:
        compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
        unknown = set(data["services"]) - set(compose["services"])
        assert not unknown, f"{snippet.id}: services not in docker-compose.yaml: {unknown}"
    elif ci_steps(data):
        for step in ci_steps(data):
            if "run" in step:
                check_shell_text(step["run"], snippet, workdir)
    else:
        pytest.fail(f"{snippet.id}: a YAML block that is no pipeline config, compose or CI file")


def ci_steps(data: object) -> list[dict]:
    """The steps of a CI workflow, a job, or a bare list of steps."""
    if isinstance(data, dict) and "jobs" in data:
        return [s for job in data["jobs"].values() for s in ci_steps(job)]
    if isinstance(data, dict) and "steps" in data:
        return ci_steps(data["steps"])
    if isinstance(data, list) and data and all(isinstance(s, dict) for s in data):
        return [s for s in data if {"run", "uses"} & set(s)]
    return []


# --- json -------------------------------------------------------------------------------------


def check_json(snippet: Snippet, workdir: Sandbox) -> None:
    data = json.loads(snippet.code)
    if isinstance(data, dict) and {"dry_run", "summary", "targets"} <= set(data):
        assert Report.from_dict(data).to_dict() == data, f"{snippet.id}: not a valid report"
    elif isinstance(data, dict) and "conn_type" in data:
        check_connection("AIRFLOW_CONN_SNIPPET", snippet.code, snippet)
    elif isinstance(data, dict) and data and set(data) <= DAG_PARAMS:
        check_dag_run_conf(data, snippet)
    elif isinstance(data, dict) and "run_id" in data and set(data) <= ROLLBACK_PARAMS:
        check_dag_run_conf(data, snippet, rollback=True)


def check_dag_run_conf(conf: dict, snippet: Snippet, rollback: bool = False) -> None:
    """A DAG run ``conf``: every value valid for the params of the context config's DAG (its
    rollback DAG's with ``rollback``)."""
    from airflow_secretsync.airflow.params import build_params
    from airflow_secretsync.airflow.rollback_dag import rollback_params

    config = parse_config(snippet.context_config, snippet.id)
    params = rollback_params(config, config.dag_id) if rollback else build_params(config)
    for name, value in conf.items():
        params[name].resolve(value)  # raises ParamValidationError


# --- shell ------------------------------------------------------------------------------------


def shell_commands(text: str) -> Iterator[list[str]]:
    """Each command of a shell script as words (quotes, ``\\`` continuations, ``&&`` ...)."""
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1]
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        pending = ""
        command: list[str] = []
        for word in [*words, ";"]:
            if word in (";", "&&", "||", "|"):
                if command:
                    yield command
                command = []
            else:
                command.append(word)
    assert not pending.strip(), f"unterminated command: {pending!r}"


def check_shell_text(text: str, snippet: Snippet, workdir: Sandbox) -> None:
    for words in shell_commands(text):
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            name, value = words.pop(0).split("=", 1)
            check_assignment(name, value, snippet)
        if words:
            program = words[0]
            checker = COMMANDS.get(program)
            assert checker, f"{snippet.id}: no check for the command {program!r}"
            checker(words[1:], snippet, workdir)


def check_shell(snippet: Snippet, workdir: Sandbox) -> None:
    check_shell_text(snippet.code, snippet, workdir)


def check_console(snippet: Snippet, workdir: Sandbox) -> None:
    """``$ command`` lines are commands; the others are their output."""
    commands = [line[2:] for line in snippet.code.splitlines() if line.startswith("$ ")]
    assert commands, f"{snippet.id}: a console block without a `$ ` command"
    check_shell_text("\n".join(commands), snippet, workdir)


def check_assignment(name: str, value: str, snippet: Snippet) -> None:
    if name.startswith("AIRFLOW_CONN_"):
        check_connection(name, value, snippet)


def check_connection(name: str, value: str, snippet: Snippet) -> None:
    """An ``AIRFLOW_CONN_*`` value (JSON or URI) that Airflow parses, of a known type."""
    from airflow.models.connection import Connection

    conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
    if value.lstrip().startswith("{"):
        conn = Connection.from_json(value, conn_id=conn_id)
    else:
        conn = Connection(conn_id=conn_id, uri=value)
    known = ("vault", "vaults", "aws", "http", "kubernetes", "github", "google_cloud_platform")
    assert conn.conn_type in known, f"{snippet.id}: {name} {conn.conn_type}"


def cmd_export(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    for assignment in args:
        name, _, value = assignment.partition("=")
        check_assignment(name, value, snippet)


def cmd_secretsync(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    """Parsed by the CLI's own parser; ``validate`` and ``plan`` (offline) run here, dry runs
    through the console script, as users run it, sharing no state with other tests."""
    from airflow_secretsync.cli import build_parser, main

    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{snippet.id}: `secretsync {shlex.join(args)}` does not parse ({exc})")
    offline = parsed.command in ("validate", "plan")
    if "--help" in args or not (offline or getattr(parsed, "dry_run", False)):
        return
    with_context(snippet, workdir, args)
    if offline:
        with redirect_stdout(StringIO()) as out, redirect_stderr(out):
            code = main(args)
        output = out.getvalue()
    else:
        script = Path(sys.executable).with_name("secretsync")
        result = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300)
        code, output = result.returncode, result.stdout + result.stderr
    command = f"secretsync {shlex.join(args)}"
    assert code in (0, 1), f"{snippet.id}: `{command}` exited {code}:\n{output}"


def cmd_make(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in (a for a in args if not a.startswith("-") and "=" not in a):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{snippet.id}: {target}"


def cmd_pip(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    from packaging.requirements import Requirement

    assert args[0] == "install", f"{snippet.id}: pip {args[0]}"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for arg in (a for a in args[1:] if not a.startswith("-")):
        requirement = Requirement(arg)
        if requirement.name == "airflow-secretsync":
            assert requirement.extras <= set(extras), f"{snippet.id}: {requirement.extras}"


def cmd_docker(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    """``docker compose ...``: options, the subcommand and the services it names."""
    assert args[0] == "compose", f"{snippet.id}: only `docker compose` is documented"
    services = set(yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"])
    words = iter(args[1:])
    positional: list[str] = []
    for word in words:
        if word == "--scale":
            service = next(words).split("=")[0]
            assert service in services, f"{snippet.id}: --scale {service}"
        elif word in ("-f", "--file"):
            assert (REPO / next(words)).exists(), snippet.id
        elif not word.startswith("-"):
            positional.append(word)
    command, *rest = positional
    named = rest[:1] if command in ("exec", "run") else rest
    if command in ("up", "down", "logs", "ps", "stop", "restart", "build", "pull", "exec", "run"):
        assert set(named) <= services, f"{snippet.id}: unknown services {set(named) - services}"
    else:
        pytest.fail(f"{snippet.id}: unexpected `docker compose {command}`")


def cmd_airflow(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    from airflow.cli.cli_parser import get_parser

    try:
        get_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{snippet.id}: `airflow {shlex.join(args)}` does not parse ({exc})")


def cmd_python(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    import importlib.util

    assert args[0] == "-m", f"{snippet.id}: only `python -m MODULE` is documented"
    assert importlib.util.find_spec(args[1]), f"{snippet.id}: no module {args[1]}"


def cmd_pytest(args: list[str], snippet: Snippet, workdir: Sandbox) -> None:
    """Every test file and test function named exists."""
    for arg in (a for a in args if not a.startswith("-")):
        file, *names = arg.split("::")
        assert (REPO / file).exists(), f"{snippet.id}: no {file}"
        for name in names:
            text = (REPO / file).read_text()
            assert re.search(rf"^\s*def {re.escape(name)}\(", text, re.M), f"{snippet.id}: {arg}"


COMMANDS: dict[str, Callable[[list[str], Snippet, Sandbox], None]] = {
    "secretsync": cmd_secretsync,
    "export": cmd_export,
    "make": cmd_make,
    "pip": cmd_pip,
    "docker": cmd_docker,
    "airflow": cmd_airflow,
    "python": cmd_python,
    "pytest": cmd_pytest,
    ".venv/bin/pytest": cmd_pytest,
}
CHECKERS: dict[str, Callable[[Snippet, Sandbox], None]] = {
    "python": check_python,
    "yaml": check_yaml,
    "yml": check_yaml,
    "json": check_json,
    "bash": check_shell,
    "sh": check_shell,
    "shell": check_shell,
    "console": check_console,
}


@pytest.mark.parametrize("snippet", CHECKED, ids=lambda s: s.id)
def test_snippet(snippet: Snippet, workdir: Sandbox) -> None:
    checker = CHECKERS.get(snippet.lang)
    assert checker, f"{snippet.id}: no checker for {snippet.lang!r}"
    checker(snippet, workdir)


BROKEN = {
    "unknown config key": (
        "yaml",
        "version: 1\npipeline: {merge: {enabled: false}}\nsources: {a: {vault: {paht: x}}}\n",
    ),
    "partial config, bad import": ("yaml", "targets:\n  Extra: [legasy]\n"),
    "unknown YAML": ("yaml", "apiVersion: v1\nkind: Pod\n"),
    "compose service": ("yaml", "services:\n  airflow-webserver: {}\n"),
    "python error": (
        "python",
        "from airflow_secretsync.config import load_config\nload_config(1)\n",
    ),
    "python name": ("python", "from airflow_secretsync.airflow import no_such_name\n"),
    "cli option": ("bash", "secretsync pipeline --config pipeline.yaml --dryrun\n"),
    "cli run": ("bash", "secretsync validate missing/../../nowhere.yaml\n"),
    "make target": ("bash", "make deploy\n"),
    "extra": ("bash", "pip install 'airflow-secretsync[gcp]'\n"),
    "connection": ("bash", 'export AIRFLOW_CONN_VAULT_DEFAULT=\'{"conn_type": "vault",\'\n'),
    "command": ("bash", "curl http://127.0.0.1:8080/\n"),
    "unterminated": ("bash", "secretsync validate 'pipeline.yaml\n"),
    "compose scale": ("bash", "docker compose up -d --scale worker=3\n"),
    "airflow cli": ("bash", "airflow dags trigger-it secretsync_example\n"),
    "test name": ("bash", ".venv/bin/pytest tests/test_compose.py::test_that_is_not_there\n"),
    "report": ("json", '{"dry_run": true, "summary": {}, "targets": [{"status": "ok"}]}\n'),
    "run conf": ("json", '{"dry_run": true, "targets": ["Staging", "Prod"]}\n'),
    "rollback conf": ("json", '{"run_id": "manual__1", "targets": ["Base"]}\n'),
    "console": ("console", "secretsync validate pipeline.yaml\n"),
}


@pytest.mark.parametrize(("lang", "code"), BROKEN.values(), ids=BROKEN.keys())
def test_checks_catch_broken_snippets(lang: str, code: str, workdir: Sandbox) -> None:
    snippet = Snippet("broken.md", 1, lang, code, None, "", EXAMPLE.read_text())
    with pytest.raises((Exception, pytest.fail.Exception)):  # a check failed, whichever
        CHECKERS[lang](snippet, workdir)


def test_imports_only_runs_the_imports_alone(workdir: Sandbox) -> None:
    code = "from airflow_secretsync.config import load_config\nload_config('/nowhere.yaml')\n"
    snippet = Snippet("p.md", 1, "python", code, "imports-only", "needs a cluster", "")
    check_python(snippet, workdir)
    full = Snippet("p.md", 1, "python", code, None, "", "")
    with pytest.raises(AssertionError, match="cannot read the config file"):
        check_python(full, workdir)
    with pytest.raises(AssertionError, match="ModuleNotFoundError"):
        check_python(
            Snippet("p.md", 1, "python", "import no_such_module\n", "imports-only", "x y z", ""),
            workdir,
        )


def test_markers_and_context_are_read_from_the_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```yaml\nversion: 1\nsources: {s: {vault: {mount: secret, path: s}}}\n"
        "targets: {T: [s]}\n```\n\n"
        "<!-- snippet: skip it talks to a production cluster -->\n"
        "```python\nraise SystemExit\n```\n"
        "```{toctree}\nindex\n```\n"
        "````text\n```python\nnot a block\n```\n````\n"
    )
    first, second, third = extract(page)
    assert (first.lang, first.line, first.marker) == ("yaml", 1, None)
    assert (second.lang, second.marker, second.reason) == (
        "python",
        "skip",
        "it talks to a production cluster",
    )
    assert "targets" in yaml.safe_load(second.context_config)
    assert set(yaml.safe_load(second.context_config)["sources"]) == {"s"}
    assert (third.lang, third.code) == ("text", "```python\nnot a block\n```\n")
