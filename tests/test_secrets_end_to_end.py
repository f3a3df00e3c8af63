"""A secret, and a param declared secret, never show: every output channel and the whole store are searched.

Channels searched, for the value and its base64 (standard, URL-safe, unpadded), URL-encoded
and JSON-escaped forms: `flowbuilder run` (plain stdout and stderr), `run --json`, `logs`,
`runs show`, `runs show --json`, and the store itself, every key and value (RocksDB: read
back through rocksdict, plus the raw bytes of every file in its directory; Redis: every key
of the server, each value by its type).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

TOKEN = "tok-S3cr3t/Value+x="  # noqa: S105 - the test's own secret, searched for below
PIN = "pin-9876-hidden"

WORKFLOW = """
name: leaky
on_failure: continue
params:
  pin: {type: string, secret: true}
env:
  TOKEN: "${{ secrets.API_TOKEN }}"
tasks:
  - name: prints
    type: shell
    config:
      command: >-
        echo "token=$TOKEN"; printf %s "$TOKEN" | base64; echo "pin=${{ params.pin }}";
        printf '{"t": "%s"}\\n' "$TOKEN" >&2; echo '{"out": "'"$TOKEN"'"}'
  - name: returns
    type: python
    config: {callable: "builtins:str", args: ["${{ secrets.API_TOKEN }}"]}
  - name: quotes
    type: python
    config: {callable: "urllib.parse:quote", args: ["${{ secrets.API_TOKEN }}"], kwargs: {safe: ""}}
  - name: fails
    type: shell
    depends_on: [prints]
    config: {command: 'echo "broken with $TOKEN and ${{ tasks.prints.output.out }}" >&2; exit 3'}
  - name: skipped
    type: shell
    depends_on: [fails]
    config: {command: "echo never"}
"""


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        urllib.parse.quote(value, safe=""),
        json.dumps(value)[1:-1],
    ]


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [form for value in (TOKEN, PIN) for form in forms(value) if form.encode() in data]


def store_contents(url: str) -> bytes:
    """Every key and value of the store, as bytes to search."""
    if url.startswith("rocksdb://"):
        import rocksdict

        path = url.removeprefix("rocksdb://")
        db = rocksdict.Rdict(path, rocksdict.Options(raw_mode=True), access_type=rocksdict.AccessType.read_only())
        try:
            items = b"".join(key + value for key, value in db.items())
        finally:
            db.close()
        files = b"".join(file.read_bytes() for file in Path(path).rglob("*") if file.is_file())
        return items + files
    import redis

    client = redis.Redis.from_url(url)
    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"list":
            parts.extend(client.lrange(key, 0, -1))
        elif kind == b"hash":
            parts.extend(k + v for k, v in client.hgetall(key).items())
        elif kind == b"set":
            parts.extend(client.smembers(key))
        elif kind == b"zset":
            parts.extend(client.zrange(key, 0, -1))
        elif kind == b"stream":
            parts.extend(k + v for _, fields in client.xrange(key) for k, v in fields.items())
    assert parts, "the Redis server holds nothing: the run was not stored there"
    return b"".join(parts)


def test_a_secret_and_a_secret_param_appear_in_no_channel_and_nowhere_in_the_store(
    run_cli, scratch_dir: Path, store_url: str
) -> None:
    (scratch_dir / "leaky.yaml").write_text(WORKFLOW)
    env = {"FLOWBUILDER_SECRET_API_TOKEN": TOKEN}
    channels: dict[str, str] = {}

    ran = run_cli("run", "--store", store_url, "leaky.yaml", "--param", f"pin={PIN}", env=env)
    assert ran.returncode == 1, ran.stdout + ran.stderr  # `fails` fails, on purpose
    assert "Traceback" not in ran.stderr
    channels["run stdout"], channels["run stderr"] = ran.stdout, ran.stderr
    as_json = run_cli("run", "--json", "--store", store_url, "leaky.yaml", "--param", f"pin={PIN}", env=env)
    channels["run --json"] = as_json.stdout + as_json.stderr
    run_id = json.loads(as_json.stdout.splitlines()[0])["run_id"]

    for name, args in {
        "logs": ("logs", "--store", store_url, run_id),
        "runs show": ("runs", "show", "--store", store_url, run_id),
        "runs show --json": ("runs", "show", "--json", "--store", store_url, run_id),
        "runs list": ("runs", "list", "--store", store_url),
    }.items():
        shown = run_cli(*args)
        assert shown.returncode == 0, shown.stderr
        channels[name] = shown.stdout + shown.stderr

    assert "***" in channels["logs"]  # the task did print it: it was masked, not missing
    assert '"pin": "***"' in channels["runs show --json"]
    leaked = {name: leaks(text) for name, text in channels.items() if leaks(text)}
    assert leaked == {}
    assert leaks(store_contents(store_url)) == []


def test_a_missing_secret_stops_the_run_before_any_task_with_one_line(run_cli, scratch_dir: Path) -> None:
    (scratch_dir / "leaky.yaml").write_text(WORKFLOW)
    ran = run_cli("run", "--store", "memory://", "leaky.yaml", "--param", f"pin={PIN}")
    assert ran.returncode == 1
    assert ran.stderr.strip() == (
        "error: secret 'API_TOKEN' not found (providers asked: environment); set FLOWBUILDER_SECRET_API_TOKEN"
    )
    assert ran.stdout == ""


def test_a_bad_secret_param_value_is_refused_without_quoting_it(run_cli, scratch_dir: Path) -> None:
    (scratch_dir / "typed.yaml").write_text(
        "name: typed\nparams:\n  pin: {type: integer, secret: true}\ntasks:\n"
        "  - {name: a, type: shell, config: {command: 'echo ${{ params.pin }}'}}\n"
    )
    ran = run_cli("run", "--store", "memory://", "typed.yaml", "--param", "pin=hunter22")
    assert ran.returncode == 2
    assert "hunter22" not in ran.stdout + ran.stderr and "(secret value) is not an integer" in ran.stderr


def test_resuming_a_run_asks_for_its_secret_params_again(run_cli, scratch_dir: Path) -> None:
    """The record holds `***` for a secret param, so `resume` needs the value given again."""
    (scratch_dir / "slow.yaml").write_text(
        "name: slow\nparams:\n  pin: {type: string, secret: true}\ntasks:\n"
        "  - {name: a, type: shell, config: {command: 'test -f marker || { touch marker; sleep 60; }; echo ${{ params.pin }}'}}\n"
    )
    store = f"rocksdb://{scratch_dir / 'store'}"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("flowbuilder")), "run", "--store", store, "slow.yaml", "--param", f"pin={PIN}"],
        cwd=scratch_dir, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (scratch_dir / "marker").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (scratch_dir / "marker").exists()
    finally:
        process.kill()
        process.wait()
    run_id = run_cli("runs", "list", "--store", store).stdout.splitlines()[1].split()[0]

    without = run_cli("resume", "--store", store, run_id)
    assert without.returncode == 2, without.stdout + without.stderr
    assert without.stderr.strip() == (
        "error: param 'pin' is secret, so the run's record does not hold it; pass it again with --param pin=VALUE"
    )
    other = run_cli("resume", "--store", store, run_id, "--param", "other=1")
    assert other.returncode == 2 and "only secret params are given again" in other.stderr

    resumed = run_cli("resume", "--store", store, run_id, "--param", f"pin={PIN}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    logs = run_cli("logs", "--store", store, run_id)
    assert "***" in logs.stdout and leaks(logs.stdout + resumed.stdout + resumed.stderr) == []


def test_a_secret_param_that_is_not_text_is_not_stored_either(run_cli, scratch_dir: Path) -> None:
    """Masking replaces text; a number in the record must be replaced by the param's declaration."""
    (scratch_dir / "number.yaml").write_text(
        "name: number\nparams:\n  code: {type: integer, secret: true}\ntasks:\n"
        "  - {name: a, type: shell, config: {command: 'echo ${{ params.code + 1 }}'}}\n"
    )
    store = f"rocksdb://{scratch_dir / 'store'}"
    ran = run_cli("run", "--store", store, "number.yaml", "--param", "code=9876543")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_cli("runs", "list", "--store", store).stdout.splitlines()[1].split()[0]
    shown = run_cli("runs", "show", "--json", "--store", store, run_id)
    assert json.loads(shown.stdout)["state"]["params"] == {"code": "***"}
    assert b"9876543" not in store_contents(store)
