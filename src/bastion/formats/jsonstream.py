"""Objects out of a JSON document of any size, one at a time.

Hash lists arrive as single JSON documents with millions of entries; loading
one whole would need gigabytes.  :func:`iter_objects` walks the document with
ijson's C parser and builds only the objects found at chosen paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import ijson

from bastion.formats.records import FormatError

#: Called for every (prefix, event, value) outside the objects being built;
#: returns True to start building an object at this event.
Selector = Callable[[str, str, Any], bool]


def iter_objects(
    stream: BinaryIO, select: Selector, abandon: Selector | None = None
) -> Iterator[tuple[str, Any]]:
    """``(prefix, object)`` for every value ``select`` starts building.

    ``abandon`` sees the events of an object being built and may drop it
    (say, once a key shows it is a container to descend into instead).
    A truncated or malformed document raises :class:`FormatError`.
    """
    builder: ijson.ObjectBuilder | None = None
    prefix_started = ""
    depth = 0
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if builder is None:
                if not select(prefix, event, value):
                    continue
                builder, prefix_started, depth = ijson.ObjectBuilder(), prefix, 0
            elif abandon is not None and abandon(prefix, event, value):
                builder = None
                continue
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            if depth == 0:
                yield prefix_started, builder.value
                builder = None
    except ijson.JSONError as exc:
        raise FormatError(f"not a complete JSON document: {exc}") from None
    except UnicodeDecodeError as exc:
        # The C parser passes some invalid UTF-8 (overlong forms, surrogates)
        # on to Python's decoder, which refuses it.
        raise FormatError(f"not a UTF-8 JSON document: {exc.reason} at byte {exc.start}") from None
    if builder is not None:
        raise FormatError("not a complete JSON document: it ends inside an object")
