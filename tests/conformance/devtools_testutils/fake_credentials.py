"""The fake key the tests use as a default (any valid base64 does)."""

STORAGE_ACCOUNT_FAKE_KEY = "c3RvcmFnZWtleQ=="
