"""The tool's exception hierarchy. Library code raises these; only ``main`` catches them."""


class SyntheticDataError(Exception):
    """Base class for errors the CLI reports as one line and a non-zero exit."""

    exit_code = 1


class ConfigError(SyntheticDataError):
    """A setting has a bad value; the message names the setting and the value."""

    exit_code = 2


class DocumentError(SyntheticDataError):
    """One input document cannot be used; the run goes on with the others."""


class ImageLoadError(SyntheticDataError):
    """One image cannot be opened or decoded; the section goes on without it."""
