"""Errors whose message is meant for the person running peak-rehearsal."""


class RehearsalError(Exception):
    """A one-line message for the user; the CLI prints it and exits 1."""


class InputError(RehearsalError):
    """A bad file or flag; the CLI prints the message and exits 2."""
