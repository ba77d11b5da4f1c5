"""`distillguard watermark …`: keys, detection, lexical marking, leak tracing, radioactivity."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli import handle_errors
from ..errors import UsageError
from ..watermark.detect import Detection, DetectOptions, Detector
from ..watermark.keys import WatermarkKey, account_key, file_sha256, load_key, save_key
from ..watermark.texts import TextRecord, read_texts
from ..watermark.tokenizer import key_tokenizer, load_tokenizer


@click.group()
def watermark() -> None:
    """Watermark outputs, detect the mark, trace leaks to accounts, test suspect models."""


@watermark.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Key file to write (mode 0600).")
@click.option("--deployment", default="default", show_default=True, help="Deployment name stored in the key.")
@click.option("--gamma", default=0.25, show_default=True, type=float, help="Green-list fraction γ.")
@click.option("--delta", default=2.0, show_default=True, type=float, help="Logit bias δ on green tokens.")
@click.option("--context-width", default=4, show_default=True, type=int,
              help="Context tokens h in the self-hashed seed (0 = context-free).")
@click.option("--tokenizer", default="bytes", show_default=True,
              help="'bytes' or the local tokenizer.json of the model (pinned by SHA-256).")
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
@handle_errors
def keygen(out: str, deployment: str, gamma: float, delta: float, context_width: int, tokenizer: str,
           force: bool) -> None:
    """Write a new secret watermark key file."""
    sha = None
    if tokenizer != "bytes":
        load_tokenizer(tokenizer)  # fail now, not at detection time
        tokenizer = str(Path(tokenizer).resolve())
        sha = file_sha256(tokenizer)
    key = WatermarkKey.generate(deployment=deployment, gamma=gamma, delta=delta,
                                context_width=context_width, tokenizer=tokenizer, tokenizer_sha256=sha)
    save_key(key, out, overwrite=force)
    click.echo(f"key {key.key_id} -> {out}")


def _key(key_file: str, account: str | None) -> WatermarkKey:
    key = load_key(key_file)
    return account_key(key, account) if account else key


def _records(files: tuple[str, ...]) -> list[TextRecord]:
    records = [r for f in files for r in read_texts(f)]
    if not records:
        raise UsageError("no texts found in " + ", ".join(files))
    return records


def _row(source: str, d: Detection) -> dict[str, object]:
    return {"source": source, "tokens": d.tokens, "tokens_scored": d.tokens_scored, "green": d.green,
            "green_fraction": round(d.green_fraction, 4), "z": round(d.z, 3), "p_value": d.p_value,
            "verdict": d.verdict}


def _print_table(rows: list[dict[str, object]]) -> None:
    w = max(len(str(r["source"])) for r in rows)
    click.echo(f"{'source':<{w}}  {'tokens':>7} {'scored':>7} {'green':>6} {'p_value':>10}  verdict")
    for r in rows:
        click.echo(f"{r['source']!s:<{w}}  {r['tokens']:>7} {r['tokens_scored']:>7} {r['green']:>6} "
                   f"{r['p_value']:>10.3g}  {r['verdict']}")


@watermark.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key-file", required=True, type=click.Path(), help="Key file from `watermark keygen`.")
@click.option("--account", default=None, help="Test the per-account key of this account instead.")
@click.option("--alpha", default=1e-3, show_default=True, type=float, help="Significance level of the verdict.")
@click.option("--min-tokens", default=16, show_default=True, type=int,
              help="Distinct scored tokens needed for a verdict.")
@click.option("--tokenizer", default=None, help="Override the key's tokenizer path (hash still checked).")
@click.option("--no-dedup", is_flag=True, help="Count repeated n-grams again (invalid p-values; for demos).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per text.")
@handle_errors
def detect(files: tuple[str, ...], key_file: str, account: str | None, alpha: float, min_tokens: int,
           tokenizer: str | None, no_dedup: bool, as_json: bool) -> None:
    """Test texts (JSONL with a `text` field, optional `prompt`; or plain text) for the watermark."""
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    key = _key(key_file, account)
    detector = Detector(key, key_tokenizer(key, tokenizer), DetectOptions(alpha, min_tokens, not no_dedup))
    records = _records(files)
    per, pooled = detector.detect_many([r.text for r in records], [r.prompt for r in records])
    rows = [_row(r.source, d) for r, d in zip(records, per, strict=True)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    _print_table(rows + [_row(f"pooled ({len(records)} texts)", pooled)])
