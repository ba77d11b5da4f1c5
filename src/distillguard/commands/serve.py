"""`distillguard serve`, `keys`, `policy` and `backtest`: the gateway and its policy on the command line."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from ..cli import handle_errors
from ..errors import UsageError

DEFAULT_DB = "gateway.duckdb"
MIN_ADMIN_TOKEN = 32


def redact_url(url: str) -> str:
    """`url` without the password of its user-info (`http://u:secret@h/` -> `http://u:***@h/`).

    >>> redact_url("http://user:secret@vllm:8000/v1"), redact_url("http://vllm:8000/v1")
    ('http://user:***@vllm:8000/v1', 'http://vllm:8000/v1')
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        u = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if u.password is None and "@" not in u.netloc:
        return url
    host = u.netloc.rsplit("@", 1)[-1]
    user = u.username or ""
    return urlunsplit((u.scheme, f"{user}:***@{host}" if u.password is not None else f"{user}@{host}", u.path,
                       u.query, u.fragment))


def _keys_path(keys: str | None, db: str | None) -> str:
    from ..gateway.keys import default_keys_path

    if keys:
        return keys
    return str(default_keys_path(db or DEFAULT_DB))


@click.command()
@click.option("--upstream", required=True, help="Base URL of the OpenAI-compatible upstream (e.g. http://vllm:8000/v1).")
@click.option("--upstream-key-env", default="UPSTREAM_API_KEY", show_default=True,
              help="Environment variable holding the upstream API key (never passed on the command line).")
@click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(),
              help="DuckDB store the gateway logs into (owned by the gateway while it runs).")
@click.option("--keys", type=click.Path(), help="API keys file [default: <db>.keys.json].")
@click.option("--policy", type=click.Path(exists=True, dir_okay=False), help="Policy file (reloaded on change).")
@click.option("--detect", type=click.Path(exists=True, file_okay=False),
              help="Detection output folder: campaigns, account scores, templates (reloaded on change).")
@click.option("--redis", "redis_url", help="Redis URL to share limits, policy and fingerprints between replicas.")
@click.option("--on-state-error", type=click.Choice(["open", "closed"]), default="open", show_default=True,
              help="When Redis is down: serve with local limits (open) or refuse with 503 (closed).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Server processes on the one port; more than one needs --redis (shared limits and actions); "
                   "worker k > 0 logs into <db stem>.w<k><suffix>.")
@click.option("--client", type=click.Choice(["auto", "httptools", "aiohttp", "httpx"]), default="auto",
              show_default=True, help="Upstream HTTP client (auto: httptools for an http:// upstream, else aiohttp).")
@click.option("--upstream-timeout", default=600.0, show_default=True, type=click.FloatRange(0.001, None),
              help="Seconds an upstream request (a whole stream included) may take before the client gets 504.")
@click.option("--auth-failures", default=20, show_default=True, type=click.IntRange(0, None),
              help="Failed authentications per client address per minute before it gets 429 (0: no limit).")
@click.option("--journal-fsync", is_flag=True,
              help="fsync the request journal per request: answered exchanges survive power loss too (slower).")
@click.option("--no-journal", is_flag=True,
              help="No request journal: a kill -9 then loses up to one log flush (0.25 s) of answered exchanges.")
@click.option("--fingerprint-workers", default=1, show_default=True, type=click.IntRange(0, 64),
              help="Processes that fingerprint prompts in the background (0: a thread of the server).")
@click.option("--redact-prompts", is_flag=True, help="Log prompts as [redacted] (fingerprints still used).")
@click.option("--redact-completions", is_flag=True, help="Log completions as [redacted].")
@click.option("--dashboard", is_flag=True, help="Mount the analyst dashboard under /dashboard.")
@click.option("--admin-token-env", default="DISTILLGUARD_ADMIN_TOKEN", show_default=True,
              help="Environment variable holding the dashboard admin token.")
@click.option("--max-header-bytes", default=64 * 1024, show_default=True, type=click.IntRange(1024, None),
              help="Largest request head (request line and headers) accepted; larger: 431.")
@click.option("--max-headers", default=100, show_default=True, type=click.IntRange(1, None),
              help="Most header fields per request; more: 431.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Seconds a client has to send the request head after connecting (or after its previous "
                   "request); later: 408 and the connection is closed.")
@click.option("--body-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Seconds a client has to send the request body after its head; later: the connection is closed.")
@click.option("--trusted-proxies", default="", show_default="none",
              help="Comma-separated addresses (or *) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto "
                   "give the client's address; by default the headers are ignored and the peer address is the "
                   "client's.")
@click.option("--max-in-flight", default=64, show_default=True, type=click.IntRange(0, None),
              help="Requests of one account in flight at once (0: no cap); more: 429 too_many_concurrent_requests.")
@handle_errors
def serve(upstream: str, upstream_key_env: str, db: str, keys: str | None, policy: str | None, detect: str | None,
          redis_url: str | None, on_state_error: str, host: str, port: int, client: str, upstream_timeout: float,
          auth_failures: int, journal_fsync: bool, no_journal: bool, fingerprint_workers: int, redact_prompts: bool,
          redact_completions: bool, dashboard: bool, admin_token_env: str, max_header_bytes: int, max_headers: int,
          header_timeout: float, body_timeout: float, max_in_flight: int, workers: int,
          trusted_proxies: str) -> None:
    """Run the OpenAI-compatible gateway: log every exchange, enforce policy per account and per campaign."""
    import uvicorn

    from ..gateway.app import Gateway, GatewayConfig
    from ..gateway.httplimits import HttpLimits, limited, raise_fd_limit
    from ..gateway.logsink import LogConfig
    from ..gateway.server import event_loop, http_protocol, preflight, serve_workers, worker_db

    admin_token = os.environ.get(admin_token_env) if dashboard else None
    if dashboard and not admin_token:
        raise UsageError(f"--dashboard needs an admin token in the environment variable {admin_token_env}")
    if admin_token is not None and len(admin_token) < MIN_ADMIN_TOKEN:
        raise UsageError(f"the admin token in {admin_token_env} has {len(admin_token)} characters; it needs at least "
                         f"{MIN_ADMIN_TOKEN} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    upstream_key = os.environ.get(upstream_key_env) or None
    if upstream_key is None:  # fine for a keyless upstream (a local vLLM); said once, where the operator looks
        click.echo(f"warning: {upstream_key_env} is not set: requests go to the upstream without an API key. If "
                   f"the upstream needs one, clients get 502 upstream_auth_failed (operator configuration) until "
                   f"you set {upstream_key_env}.", err=True)
    config = GatewayConfig(
        upstream=upstream, keys=_keys_path(keys, db), upstream_key=upstream_key, db=db,
        policy=policy, detect=detect, redis=redis_url, on_state_error=on_state_error, client=client,
        log=LogConfig(redact_prompts=redact_prompts, redact_completions=redact_completions, fsync=journal_fsync,
                      journal=not no_journal),
        dashboard=dashboard, admin_token=admin_token, fingerprint_workers=fingerprint_workers,
        upstream_timeout_s=upstream_timeout, auth_failures=auth_failures, max_in_flight_per_account=max_in_flight,
        settle_heap=True)
    shown = redact_url(upstream)  # never a password from the URL in the banner
    limits = HttpLimits(max_header_bytes, max_headers, header_timeout, body_timeout)
    server_opts = dict(log_level="warning", access_log=False, loop=event_loop(),
                       http=limited(http_protocol(), limits), timeout_graceful_shutdown=10,
                       h11_max_incomplete_event_size=max_header_bytes,
                       proxy_headers=bool(trusted_proxies.strip()), forwarded_allow_ips=trusted_proxies.strip() or None)
    if workers > 1:
        if not redis_url:
            raise UsageError(f"--workers {workers} needs --redis URL: worker processes share rate limits, analyst "
                             "actions, online campaign assignments and the policy through Redis (state in one "
                             "process's memory is not shared)")
        preflight(config)  # bad files fail here, once, not in every worker
        click.echo(f"distillguard gateway on http://{host}:{port}/v1 -> {shown}  ({workers} workers, stores "
                   f"{db} … {worker_db(db, workers - 1)}, redis {redis_url})", err=True)
        raise_fd_limit()
        serve_workers(workers, lambda k: Gateway(replace(config, db=worker_db(db, k))).app, host, port,
                      **server_opts)
        return
    gw = Gateway(config)
    click.echo(f"distillguard gateway on http://{host}:{port}/v1 -> {shown}  (store {db}, "
               f"{'redis ' + redis_url if redis_url else 'in-memory state'})", err=True)
    raise_fd_limit()
    uvicorn.run(gw.app, host=host, port=port, **server_opts)  # type: ignore[arg-type]


@click.group()
def keys() -> None:
    """Manage gateway API keys (stored hashed; a key is printed once, at creation)."""


_keys_opts = [
    click.option("--keys", "keys_file", type=click.Path(), help="Keys file [default: <db>.keys.json]."),
    click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(),
                 help="The gateway's store (locates the default keys file)."),
]


def _with_keys_opts(fn):  # type: ignore[no-untyped-def]
    for opt in reversed(_keys_opts):
        fn = opt(fn)
    return fn


@keys.command("create")
@click.option("--account", required=True, help="Account the key bills to.")
@click.option("--org", help="Organisation of the account.")
@click.option("--verified", is_flag=True, help="The account passed verification (exempt from `verify`).")
@click.option("--label", default="", help="Free-text note.")
@_with_keys_opts
@handle_errors
def keys_create(account: str, org: str | None, verified: bool, label: str, keys_file: str | None, db: str) -> None:
    """Create a key for an account and print it (it is not stored and cannot be shown again)."""
    from ..gateway.keys import KeyStore

    click.echo(KeyStore(_keys_path(keys_file, db)).create(account, org, verified, label))


@keys.command("revoke")
@click.argument("key_id")
@_with_keys_opts
@handle_errors
def keys_revoke(key_id: str, keys_file: str | None, db: str) -> None:
    """Revoke a key by its id (or the full key); the gateway refuses it within a second."""
    from ..gateway.keys import KeyStore

    rec = KeyStore(_keys_path(keys_file, db)).revoke(key_id)
    click.echo(f"revoked {rec.key_id} (account {rec.account_id}) at {rec.revoked_at}")


@keys.command("list")
@_with_keys_opts
@handle_errors
def keys_list(keys_file: str | None, db: str) -> None:
    """List keys: id, account, org, verified, created, revoked."""
    from ..gateway.keys import KeyStore

    click.echo("key_id\taccount_id\torg_id\tverified\tcreated_at\trevoked_at")
    for r in KeyStore(_keys_path(keys_file, db)).list():
        click.echo(f"{r.key_id}\t{r.account_id}\t{r.org_id or ''}\t{str(r.verified).lower()}\t{r.created_at}\t"
                   f"{r.revoked_at or ''}")


@click.group()
def policy() -> None:
    """Write and check enforcement policy files."""


@policy.command("init")
@click.argument("file", type=click.Path(dir_okay=False), default="policy.toml")
@click.option("--baseline", is_flag=True, help="Write the per-key-only rate-limit baseline instead.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@handle_errors
def policy_init(file: str, baseline: bool, force: bool) -> None:
    """Write the default policy (commented TOML) to FILE."""
    from ..policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML

    p = Path(file)
    if p.exists() and not force:
        raise UsageError(f"{p} exists; use --force to overwrite it")
    p.write_text(PER_KEY_BASELINE_TOML if baseline else DEFAULT_POLICY_TOML)
    click.echo(f"wrote {p}")


@policy.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@handle_errors
def policy_check(file: str) -> None:
    """Validate a policy file and print what it does."""
    from ..policy import describe_policy, load_policy

    click.echo(describe_policy(load_policy(file)))


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="Policy to replay [default: the default policy].")
@click.option("--detect", type=click.Path(exists=True, file_okay=False),
              help="Detection output folder (campaign membership, scores, templates).")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False),
              help="Ground-truth labels.csv: campaigns and legitimate accounts are counted by it.")
@click.option("--delay-hours", default=24.0, show_default=True,
              help="Detection output becomes known this long after an account's (and campaign's) first request.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also replay the per-key-only rate-limit baseline.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
@handle_errors
def backtest(logs: tuple[str, ...], policy_file: str | None, detect: str | None, labels: str | None,
             delay_hours: float, baseline: bool, json_out: str | None) -> None:
    """Replay historical logs through the enforcement engine with simulated time."""
    from ..backtest import BacktestOptions, format_results, run_backtest, write_json
    from ..policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML, load_policy, parse_policy

    pol = load_policy(policy_file) if policy_file else parse_policy(DEFAULT_POLICY_TOML, "default")
    policies = {"policy": pol}
    if baseline:
        policies["per-key baseline"] = parse_policy(PER_KEY_BASELINE_TOML, "per-key baseline")
    results = run_backtest(list(logs), policies, BacktestOptions(detect=detect, labels=labels,
                                                                 delay_s=delay_hours * 3600))
    click.echo(format_results(results))
    if json_out:
        write_json(results, json_out)
        click.echo(f"wrote {json_out}", err=True)
    sys.stdout.flush()
