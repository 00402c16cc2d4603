"""``bastion serve``: the HTTP API, the HMA-compatible routes and the review UI."""
