"""Placeholder: filled in by the member pages."""

from __future__ import annotations

from selfiam.portal.web import Pages

pages = Pages()
