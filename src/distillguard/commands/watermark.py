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
@click.option("--lexical", is_flag=True, help="Test for the post-hoc lexical watermark instead.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per text.")
@handle_errors
def detect(files: tuple[str, ...], key_file: str, account: str | None, alpha: float, min_tokens: int,
           tokenizer: str | None, no_dedup: bool, lexical: bool, as_json: bool) -> None:
    """Test texts (JSONL with a `text` field, optional `prompt`; or plain text) for the watermark."""
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    key = _key(key_file, account)
    records = _records(files)
    if lexical:
        from ..watermark.lexical import LexicalWatermark

        lex = LexicalWatermark(key)
        per = [lex.detect(r.text, alpha, min_tokens) for r in records]
        pooled = lex.detect_pooled([r.text for r in records], alpha, min_tokens)
    else:
        detector = Detector(key, key_tokenizer(key, tokenizer), DetectOptions(alpha, min_tokens, not no_dedup))
        per, pooled = detector.detect_many([r.text for r in records], [r.prompt for r in records])
    rows = [_row(r.source, d) for r, d in zip(records, per, strict=True)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    _print_table(rows + [_row(f"pooled ({len(records)} texts)", pooled)])


@watermark.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key-file", required=True, type=click.Path(), help="Key file from `watermark keygen`.")
@click.option("--account", default=None, help="Mark with the per-account key of this account.")
@handle_errors
def rewrite(files: tuple[str, ...], key_file: str, account: str | None) -> None:
    """Apply the post-hoc lexical watermark; prints JSONL records with the rewritten `text`."""
    from ..watermark.lexical import LexicalWatermark

    lex = LexicalWatermark(_key(key_file, account))
    for r in _records(files):
        click.echo(json.dumps({"source": r.source, "text": lex.apply(r.text)}, ensure_ascii=False))


def read_accounts(path: str) -> list[str]:
    """Account ids from a Parquet file (`account_id` column), a CSV with that header, or one id per line."""
    p = Path(path)
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            ids = [str(a) for a in pq.read_table(p, columns=["account_id"]).column("account_id").to_pylist()]
        except (OSError, KeyError, ValueError) as e:
            raise UsageError(f"{p}: cannot read column account_id ({e})") from None
    else:
        lines = [ln.split(",")[0].strip() for ln in p.read_text().splitlines()]
        ids = [a for i, a in enumerate(lines) if a and not (i == 0 and a == "account_id")]
    if not ids:
        raise UsageError(f"{p}: no account ids found (one per line, or an account_id column)")
    return list(dict.fromkeys(ids))


@watermark.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key-file", required=True, type=click.Path(), help="Deployment key file.")
@click.option("--accounts", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Candidate accounts: one id per line, CSV or Parquet with account_id.")
@click.option("--alpha", default=1e-3, show_default=True, type=float, help="Family-wise error rate.")
@click.option("--top", default=20, show_default=True, type=int, help="Rows to print (text output).")
@click.option("--lexical", is_flag=True, help="Trace the post-hoc lexical watermark instead.")
@click.option("--json", "as_json", is_flag=True, help="Print all rows as a JSON list.")
@handle_errors
def trace(files: tuple[str, ...], key_file: str, accounts: str, alpha: float, top: int, lexical: bool,
          as_json: bool) -> None:
    """Say which deployment or account keys a leaked dataset carries (Holm-controlled across keys)."""
    from ..watermark.trace import trace_keys, trace_lexical

    key = load_key(key_file)
    ids = read_accounts(accounts)
    texts = [r.text for r in _records(files)]
    if lexical:
        table = trace_lexical(texts, key, ids, alpha)
    else:
        table = trace_keys(texts, key, ids, key_tokenizer(key), alpha)
    rows = table.to_pylist()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    hits = sum(r["significant"] for r in rows)
    click.echo(f"{len(texts)} texts, {len(rows)} keys tested, {hits} significant at family-wise alpha {alpha}")
    click.echo(f"{'key':<40} {'scored':>7} {'green':>6} {'p_value':>10} {'p_holm':>10}  significant")
    for r in rows[:top]:
        click.echo(f"{r['key_id']:<40} {r['tokens_scored']:>7} {r['green']:>6} {r['p_value']:>10.3g} "
                   f"{r['p_adjusted']:>10.3g}  {'YES' if r['significant'] else 'no'}")


@watermark.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key-file", required=True, type=click.Path(), help="Key the suspect may have learned.")
@click.option("--account", default=None, help="Use the per-account key of this account.")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Open setting: local Hugging Face model folder of the suspect; FILES are probe texts.")
@click.option("--probe-unmarked", is_flag=True,
              help="Open setting: the probe texts carry no watermark of this key, so input tuples are kept.")
@click.option("--alpha", default=1e-3, show_default=True, type=float, help="Significance level.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def radioactivity(files: tuple[str, ...], key_file: str, account: str | None, model_dir: str | None,
                  probe_unmarked: bool, alpha: float, as_json: bool) -> None:
    """Test whether a suspect model was trained on watermarked text.

    Closed setting (default): FILES are the suspect's generations (JSONL `text`, optional `prompt`).
    Open setting (--model): FILES are probe texts; the suspect's next-token predictions are scored.
    """
    from ..watermark.radioactivity import closed_test, hf_predictor, open_test

    key = _key(key_file, account)
    detector = Detector(key, key_tokenizer(key), DetectOptions(alpha, 16, True))
    records = _records(files)
    if model_dir is None:
        result = closed_test(detector, [r.text for r in records], [r.prompt for r in records])
        setting = "closed"
    else:
        try:
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise UsageError("--model needs torch and transformers: pip install 'distillguard[watermark]'") from None
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
        result = open_test(detector, [r.text for r in records], hf_predictor(model),
                           exclude_input=not probe_unmarked)
        setting = "open"
    row = {"setting": setting, **_row(f"{len(records)} texts", result)}
    if as_json:
        click.echo(json.dumps(row))
        return
    click.echo(f"{setting} setting: {row['tokens_scored']} distinct tuples scored, {row['green']} green "
               f"(γ={key.gamma}), p = {result.p_value:.3g} -> "
               f"{'RADIOACTIVE' if result.verdict == 'watermarked' else result.verdict.replace('_', ' ')}")
