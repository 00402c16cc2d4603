from __future__ import annotations

import hashlib
import io

from hypothesis import given
from hypothesis import strategies as st

from bastion.media.reader import HashingReader

operations = st.lists(
    st.tuples(st.sampled_from(["read", "seek_set", "seek_cur", "seek_end"]), st.integers(-50, 400)),
    max_size=30,
)


@given(data=st.binary(max_size=2000), ops=operations)
def test_digest_is_of_whole_stream_whatever_the_access_pattern(data: bytes, ops: list) -> None:
    fed = hashlib.sha256()
    reader = HashingReader(io.BytesIO(data), fed.update)
    buffered = io.BufferedReader(reader, 64)
    position = 0
    for op, arg in ops:
        if op == "read":
            chunk = buffered.read(max(arg, 0))
            assert chunk == data[position : position + max(arg, 0)]
            position += len(chunk)
        else:
            whence = {"seek_set": 0, "seek_cur": 1, "seek_end": 2}[op]
            target = {0: arg, 1: position + arg, 2: len(data) + arg}[whence]
            if target < 0:
                continue
            position = buffered.seek(arg, whence)
    assert reader.finish() == len(data)
    assert fed.hexdigest() == hashlib.sha256(data).hexdigest()
