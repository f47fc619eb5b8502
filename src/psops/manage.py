"""The `psops` command: the project's manage.py."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "psops.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings, which refuse unsafe configurations)
    except ImproperlyConfigured as problem:
        # A configuration mistake, not a bug: say what to set, without a traceback.
        sys.stderr.write(f"psops cannot start: {problem}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
