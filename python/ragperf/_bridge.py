"""The hand-off from ragperf's C++ completions to asyncio.

``pending()`` makes a future on the running loop and the ``resolve(exc, value)`` callable that the C++
side calls once, from any thread, with the GIL held. ``resolve`` never touches the future itself: it
hands the outcome to the loop with ``loop.call_soon_threadsafe``, so the future completes on the
caller's loop and the loop is never blocked. A future whose awaiting task was cancelled simply drops
the late outcome (the C++ objects in it, such as a pooled connection, are released when dropped).
"""

import asyncio
import numbers

__all__ = ["pending", "check_text", "check_texts", "check_positive_int", "check_seconds"]


def _deliver(fut, exc, value):
    if fut.done():  # cancelled by its caller: the late outcome is dropped
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


def pending():
    """A future on the running loop and the ``resolve(exc, value)`` that completes it from any thread."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def resolve(exc, value):
        try:
            loop.call_soon_threadsafe(_deliver, fut, exc, value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    return fut, resolve


def check_text(value, what):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    return value


def check_texts(values, what):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what} must be a list of str, not {type(values).__name__}")
    values = list(values)
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise TypeError(f"{what}[{i}] must be str, not {type(v).__name__}")
    return values


def check_positive_int(value, what, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{what}={value} must be at least 1")
    return int(value)


def check_seconds(value, what, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    value = float(value)
    if not (value >= 0.0) or value == float("inf"):
        raise ValueError(f"{what}={value} must be a finite number of seconds >= 0")
    return value
