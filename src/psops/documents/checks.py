"""`psops check` says when the machine cannot make PDFs, and what to install, before a user sends a quote."""

from __future__ import annotations

import ctypes.util

from django.core.checks import Error, register

PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1"


# The shared libraries WeasyPrint opens (by the names ctypes looks them up by).
LIBRARIES = ("gobject-2.0", "pango-1.0", "pangoft2-1.0", "harfbuzz", "fontconfig")


def pdf_engine_problem() -> str | None:
    """Which library WeasyPrint needs is missing here, or None. (Looked up without importing WeasyPrint, which
    takes two seconds: every command runs the checks.)"""
    missing = [name for name in LIBRARIES if ctypes.util.find_library(name) is None]
    return f"missing the system libraries {', '.join(missing)}" if missing else None


@register("documents")
def check_pdf_engine(app_configs=None, **kwargs):
    problem = pdf_engine_problem()
    if problem is None:
        return []
    return [Error(f"PDFs cannot be made: {problem}", id="psops.E020",
                  hint=f"Install the libraries WeasyPrint needs (Debian: apt-get install {PANGO_PACKAGES} "
                       "fonts-dejavu-core fonts-wqy-microhei).")]
