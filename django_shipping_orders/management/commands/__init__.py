"""The app's ``manage.py`` commands, one module each (``_args`` holds what they share)."""
