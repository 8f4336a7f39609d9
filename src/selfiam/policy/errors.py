"""Errors raised by the pure policy core (it imports nothing else of selfiam)."""

from __future__ import annotations


class MalformedPolicyError(ValueError):
    """A policy document IAM would reject with MalformedPolicyDocument.

    The message says what is wrong and where (statement index or Sid, element),
    in words fit to show a user.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
