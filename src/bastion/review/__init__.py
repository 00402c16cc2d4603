"""The review queue: uploads that need a person's decision, kept safely."""
