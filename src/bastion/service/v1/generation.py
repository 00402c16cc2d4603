"""For generator operators: check an output before it leaves, and stamp it."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from bastion.accounts import Permission
from bastion.service import doors
from bastion.service.errors import ApiError
from bastion.service.security import Matcher, State
from bastion.service.v1.hashing import Upload, upload_example
from bastion.stamping import StampOptions

router = APIRouter()
GeneratorForm = Annotated[
    str, Form(max_length=200, description="the generator, named as the software agent")
]
ModelForm = Annotated[str | None, Form(max_length=64, description="SHA-256 of the model file")]
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
    generator: GeneratorForm = "unnamed generator",
    model_sha256: ModelForm = None,
) -> Response:
    """The image stamped, in its own format; ``X-Bastion-Stamp`` says what it carries."""
    data, _name = doors.read_upload(file)
    stamped = state.stamper.stamp(data, StampOptions(c2pa, watermark, generator, model_sha256))
    return Response(
        stamped.data,
        media_type=stamped.mime,
        headers={"X-Bastion-Stamp": json.dumps(stamped.to_dict())},
    )


@router.post(
    "/generation-check",
    tags=["generation"],
    summary="Check a generated output before it leaves: allow, block or review",
    openapi_extra=upload_example(stamp=True),
)
def generation_check(
    who: Matcher,
    state: State,
    file: Upload,
    prompt: Annotated[
        str | None,
        Form(max_length=20000, description="the prompt, screened against the term banks"),
    ] = None,
    stamp: Annotated[
        bool, Form(description="stamp an allowed output (watermark and C2PA)")
    ] = False,
    generator: GeneratorForm = "unnamed generator",
    model_sha256: ModelForm = None,
) -> dict[str, Any]:
    """The verdict and its reasons: a known hash blocks; a term of a term bank in
    the prompt blocks, a near spelling of one asks for review; the configured
    classifier may ask for review; anything not checked asks for review.
    Blocked and review outputs are queued for review.  An allowed output is
    stamped when ``stamp`` is set: the answer then carries it, base64-encoded."""
    if not who.may(Permission.QUEUE):
        raise ApiError(403, f"role {who.role} may not queue items for review")
    data, name = doors.read_upload(file)
    options = StampOptions(generator=generator, model_sha256=model_sha256) if stamp else None
    result = state.generation.check(
        data, state.index, name=name, prompt=prompt, submitted_by=who.actor, stamp=options
    )
    answer = result.to_dict()
    if result.stamped is not None:
        answer["stamped"]["data"] = base64.b64encode(result.stamped.data).decode()
    return answer
