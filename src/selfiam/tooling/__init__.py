"""Tooling behind ``selfiam policy lint`` and ``selfiam verify``: importable, and I/O-free
where it can be (the remote simulation in `verify` talks to an IAM endpoint through boto3)."""
