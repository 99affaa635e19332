"""The one exception type for input a user can fix.

Every message says what is wrong *and what to do*; the CLI prints it without a traceback and the app shows it as an
error box. Programming errors stay ordinary exceptions.
"""


class AdaptError(ValueError):
    """Bad input, a missing resource, or a request the library cannot honour; the message says what to fix."""
