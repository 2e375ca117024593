"""Exceptions of the crossbert package (raised by the native module too)."""


class CrossbertError(RuntimeError):
    """An error of the emulator; the message is the text ``crossbert`` prints after ``error:``."""


class CrossbertValueError(CrossbertError, ValueError):
    """A bad argument, hardware description, override key or array shape."""
