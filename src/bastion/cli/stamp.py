"""``bastion stamp``: mark a generated image as generated (watermark and C2PA)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bastion.cli.app import app
from bastion.cli.common import atomic_output, fail, load_settings, stderr, user_errors
from bastion.stamping import Stamper, StampOptions


@app.command("stamp")
def stamp_command(
    source: Annotated[Path, typer.Argument(help="The generated image (PNG or JPEG).")],
    out: Annotated[Path, typer.Argument(help="Where the stamped image is written.")],
    c2pa: Annotated[
        bool,
        typer.Option(
            "--c2pa/--no-c2pa",
            help="Sign a C2PA manifest (BASTION_STAMP_CERT and BASTION_STAMP_KEY).",
        ),
    ] = True,
    watermark: Annotated[
        bool,
        typer.Option("--watermark/--no-watermark", help="Embed the invisible dwtDct watermark."),
    ] = True,
    generator: Annotated[
        str, typer.Option(help="The generator, named in the manifest as software agent.")
    ] = "unnamed generator",
    model: Annotated[
        str | None, typer.Option(help="SHA-256 of the model file, named in the manifest.")
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(help="The watermark's 48-bit message, 12 hex digits (default: Bastion's)."),
    ] = None,
) -> None:
    """Stamp a generated image so it stays recognisable wherever it goes.

    The watermark survives the manifest being stripped; `bastion inspect` of
    the output says ai-generated, verified when the signer is in
    BASTION_TRUST_ANCHORS, declared from the watermark alone.
    """
    settings = load_settings()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {escape(str(source))}: {exc.strerror}") from None
    with user_errors():
        options = StampOptions(c2pa, watermark, generator, model)
        if message is not None:
            options = replace(options, message=_message(message))
        stamped = Stamper(settings).stamp(data, options)
    with atomic_output(out) as stream:
        stream.write(stamped.data)
    marks = [
        name
        for name, on in (("C2PA manifest", stamped.c2pa), ("watermark", stamped.watermark))
        if on
    ]
    stderr.print(f"stamped {escape(str(out))}: {' and '.join(marks)}", highlight=False)
    typer.echo(json.dumps({"out": str(out), **stamped.to_dict()}))


def _message(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise fail(f"--message {text!r} is not hexadecimal") from None
