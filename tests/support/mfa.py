"""An authenticator app for tests: real TOTP codes, never a step twice."""

from __future__ import annotations

import time

import pyotp


class Authenticator:
    """An authenticator app: hands out the code of a step not used before."""

    def __init__(self, seed: str) -> None:
        self.totp = pyotp.TOTP(seed)
        self.step = int(time.time()) // 30

    def code(self, step: int) -> str:
        return self.totp.at(step * 30)

    def enable_codes(self) -> dict[str, str]:
        """The previous and the current code; the current step is then used up."""
        self.step = int(time.time()) // 30
        return {
            "AuthenticationCode1": self.code(self.step - 1),
            "AuthenticationCode2": self.code(self.step),
        }

    def next_code(self) -> str:
        """A code newer than any used: the next step's (the server accepts one step ahead)."""
        self.step = max(self.step + 1, int(time.time()) // 30)
        return self.code(self.step)
