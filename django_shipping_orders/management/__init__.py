"""The app's ``manage.py`` commands live in :mod:`.commands`."""
