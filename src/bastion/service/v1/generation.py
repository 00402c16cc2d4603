"""For generator operators: check an output before it leaves, and stamp it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from bastion.service import doors
from bastion.service.security import Matcher, State
from bastion.service.v1.hashing import Upload, upload_example
from bastion.stamping import StampOptions

router = APIRouter()
_BINARY = {"type": "string", "format": "binary"}


@router.post(
    "/stamp",
    tags=["generation"],
    summary="Stamp a generated image (watermark and signed C2PA manifest)",
    openapi_extra=upload_example(c2pa=True, watermark=True),
    response_class=Response,
    responses={
        200: {
            "content": {mime: {"schema": _BINARY} for mime in ("image/png", "image/jpeg")},
            "description": "the stamped image, in the format it came in",
        }
    },
)
def stamp(
    _: Matcher,
    state: State,
    file: Upload,
    c2pa: Annotated[
        bool, Form(description="sign a C2PA manifest (trainedAlgorithmicMedia)")
    ] = True,
    watermark: Annotated[bool, Form(description="embed the invisible dwtDct watermark")] = True,
    generator: Annotated[
        str, Form(max_length=200, description="the generator, named as the software agent")
    ] = "unnamed generator",
    model_sha256: Annotated[
        str | None, Form(max_length=64, description="SHA-256 of the model file")
    ] = None,
) -> Response:
    """The image stamped, in its own format; ``X-Bastion-Stamp`` says what it carries."""
    data, _name = doors.read_upload(file)
    stamped = state.stamper.stamp(data, StampOptions(c2pa, watermark, generator, model_sha256))
    return Response(
        stamped.data,
        media_type=stamped.mime,
        headers={"X-Bastion-Stamp": json.dumps(stamped.to_dict())},
    )
