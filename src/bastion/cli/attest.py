"""``bastion attest``: a signing key, and the check of a scan's attestation.

``bastion scan --attest KEY`` signs (through :func:`signing_key` before the
scan and :func:`attest_finished_scan` after it); ``bastion attest keygen``
makes the key and ``bastion attest verify`` checks what was signed.  The
work is :mod:`bastion.attest`'s; these commands parse and render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.markup import escape

from bastion.attest.keys import generate_key_pair, load_private_key, load_public_key
from bastion.attest.statement import write_attestation
from bastion.attest.verify import Verification, verify_attestation
from bastion.cli.common import fail, stderr, user_errors
from bastion.cli.outcome import ExitCode

attest_app = typer.Typer(
    help="Signed scan attestations: make a signing key, check an attestation.",
    no_args_is_help=True,
)


@attest_app.command("keygen")
def keygen(
    private: Annotated[Path, typer.Argument(help="File for the new private key (made 0600).")],
    public: Annotated[
        Path | None,
        typer.Option("--public", help="File for the public key (default: PRIVATE.pub)."),
    ] = None,
) -> None:
    """Make an Ed25519 key pair: PRIVATE signs attestations, the public key checks them.

    Neither file is ever replaced.  Keep PRIVATE secret (`bastion scan
    --attest PRIVATE` refuses it if others may read it); give the public
    key to whoever verifies.
    """
    public = public or private.with_name(f"{private.name}.pub")
    with user_errors():
        keyid = generate_key_pair(private, public)
    stderr.print(f"private key: {escape(str(private))} (mode 0600, secret)", highlight=False)
    stderr.print(f"public key:  {escape(str(public))} (for verifiers)", highlight=False)
    typer.echo(json.dumps({"private": str(private), "public": str(public), "keyid": keyid}))


def signing_key(path: Path | None, *, no_banks: bool) -> Ed25519PrivateKey | None:
    """``scan --attest KEY``'s key, loaded before the scan starts so a bad key costs nothing."""
    if path is None:
        return None
    if no_banks:
        raise fail(
            "--attest with --no-banks: nothing would be matched, and an attestation "
            "must not read as a clean scan; name the banks to match against",
            ExitCode.NOT_RUN,
        )
    with user_errors():
        return load_private_key(path)


def attest_finished_scan(out: Path, key: Ed25519PrivateKey) -> None:
    """Sign the finished scan in ``out`` and say where the attestation is."""
    with user_errors(), stderr.status("hashing the scanned files for the attestation"):
        attested = write_attestation(out, key)
    unread = f"; {attested.not_hashed:,} not read, listed" if attested.not_hashed else ""
    stderr.print(
        f"attestation in {escape(str(attested.path))} ({attested.subjects:,} files{unread}; "
        f"key id {attested.keyid[:16]}…)",
        highlight=False,
    )


@attest_app.command("verify")
def verify(
    attestation: Annotated[Path, typer.Argument(help="DIR/attestation.json of a scan.")],
    key: Annotated[Path, typer.Option("--key", help="The signer's public key (PEM).")],
    dataset: Annotated[
        list[Path] | None,
        typer.Option(
            "--dataset",
            help="The dataset as it is now: one per SOURCE of the scan, in order "
            "(a copy elsewhere will do); every file is hashed and compared.",
        ),
    ] = None,
) -> None:
    """Check an attestation's signature and statement and, with --dataset, every file.

    Exit status: 0 everything verifies, 1 something does not (one line per
    failure: the signature, the statement, a file changed, missing, extra,
    unreadable or not read by the scan), 2 nothing could be checked.
    """
    with user_errors():
        public = load_public_key(key)
        result = verify_attestation(attestation, public, dataset or [])
    for failure in result.failures:
        stderr.print(f"[red]{escape(failure)}[/red]", highlight=False, soft_wrap=True)
    if result.ok:
        _describe(result)
    else:
        stderr.print(f"does not verify: {len(result.failures):,} failure(s)", highlight=False)
    typer.echo(json.dumps(_as_json(result)))
    if not result.ok:
        raise typer.Exit(ExitCode.INCOMPLETE)


def _describe(result: Verification) -> None:
    """What a verified attestation says, the unchecked first among equals."""
    statement = result.statement
    assert statement is not None  # a verified attestation has one
    predicate, counts = statement.predicate, statement.counts
    banks = ", ".join(
        f"{escape(b['name'])} ({b['entries']:,} entries, change {b['latest_change'] or 'none'})"
        for b in predicate["banks"]
    )
    lines = [
        f"[green]verifies[/green]: key id {(result.keyid or '')[:16]}…; "
        f"{len(statement.subjects):,} files scanned by Bastion "
        f"{escape(predicate['scanner']['version'])} from {predicate['started_at']} "
        f"to {predicate['finished_at']}",
        f"  against {banks or 'no bank'}",
        f"  {counts['seen']:,} items: {counts['hashed']:,} hashed, {counts['errored']:,} "
        f"errored, {counts['skipped']:,} skipped; {counts['matched']:,} matched",
    ]
    if counts["unchecked"]:
        lines.append(
            f"  [yellow]{counts['unchecked']:,} items were not fully checked[/yellow] "
            "(the attestation says so)"
        )
    if statement.not_hashed:
        lines.append(f"  {len(statement.not_hashed):,} files met but not read by the scan")
    for name in predicate["missing_sources"]:
        lines.append(f"  [yellow]missing at scan time, not scanned:[/yellow] {escape(name)}")
    if result.dataset is not None:
        lines.append(f"  dataset: all {result.dataset.matching:,} files match their digests")
    for line in lines:
        stderr.print(line, highlight=False, soft_wrap=True)


def _as_json(result: Verification) -> dict[str, Any]:
    statement = result.statement
    described = None
    if statement is not None:
        predicate = statement.predicate
        described = {
            "subjects": len(statement.subjects),
            "not_hashed": len(statement.not_hashed),
            "scanner": predicate["scanner"],
            "started_at": predicate["started_at"],
            "finished_at": predicate["finished_at"],
            "sources": list(statement.sources),
            "missing_sources": predicate["missing_sources"],
            "banks": predicate["banks"],
            "counts": statement.counts,
        }
    dataset = result.dataset
    return {
        "ok": result.ok,
        "keyid": result.keyid,
        "failures": list(result.failures),
        "statement": described,
        "dataset": None if dataset is None else {"matching": dataset.matching, **dataset.counts()},
    }
