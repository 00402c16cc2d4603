"""Cases: a seized collection scanned, clustered, prioritised and categorised.

An investigator's case holds the items of one or more pieces of evidence,
each scanned with the case's banks; near-duplicates form clusters, and the
clusters are ordered so that "possibly a real child, not yet known" comes
first (see docs/cases.md).
"""
