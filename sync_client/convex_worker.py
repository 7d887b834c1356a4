"""A Convex worker process: one SDK client; calls come in on stdin, answers go out on stdout.

Why a process: the SDK blocks in native code holding the GIL and has no timeout, so calls
made in the caller's process can neither overlap nor be cut short without a signal (which
only the main thread of a Unix process gets). A process can be waited on with a timeout and
killed, from any thread, on every OS. `convex_pool.WorkerPool` starts and drives these.

Messages are tuples in `marshal` format (Convex values are plain dicts, lists, strings, numbers,
booleans, None and bytes, which it carries exactly; it loads faster than pickle), each framed
by its length (4 bytes, big-endian):
- in: `("connect", url, admin_key | None)` first (the deploy key travels over the pipe, never
  in an argument or the environment), then `("call", kind, name, args, deadline_s | None)`;
- out: `("ready",)` once the client exists, then per call `("ok", value)`,
  `("convex_error", message, data)` (a ConvexError) or `("error", message)`.

A worker never outlives its parent: between calls it blocks reading the parent's pipe, which
ends when the parent exits however it exits; during a call a faulthandler watchdog (a C thread
that needs no GIL) ends the process once the call's deadline and a grace period have passed.
Ctrl-C is the parent's to handle (it stops its workers), so a worker ignores SIGINT.

Only the standard library is imported at module level: the parent imports the framing.
"""

from __future__ import annotations

import marshal
import os
import signal
import struct
import sys
from typing import IO, Any

_LENGTH = struct.Struct(">I")
#: How long past its deadline a worker still stuck in a call waits before ending itself (the
#: parent normally kills it first, at the deadline).
SELF_EXIT_GRACE_S = 5.0


def write_message(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    """Send one framed message."""
    payload = marshal.dumps(message)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def read_message(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """The next framed message, or None when the other side has gone."""
    header = _read_exactly(stream, _LENGTH.size)
    if header is None:
        return None
    payload = _read_exactly(stream, _LENGTH.unpack(header)[0])
    if payload is None:
        return None
    message: tuple[Any, ...] = marshal.loads(payload)
    return message


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(incoming: IO[bytes], outgoing: IO[bytes]) -> None:
    """Connect as the first message says, then answer calls until the input ends."""
    import faulthandler

    hello = read_message(incoming)
    if hello is None or hello[0] != "connect":
        return
    _, url, admin_key = hello
    try:
        from convex import ConvexClient, ConvexError

        client = ConvexClient(url)  # it connects in the background at once
        if admin_key is not None:
            client.set_admin_auth(admin_key)
    except Exception as error:  # e.g. the SDK missing from this interpreter
        write_message(outgoing, ("error", f"{type(error).__name__}: {error}"))
        return
    del hello, admin_key
    write_message(outgoing, ("ready",))
    watchdog_output = open(os.devnull, "w")  # noqa: SIM115 - open for the process's lifetime
    while (message := read_message(incoming)) is not None:
        _, kind, name, args, deadline_s = message
        if deadline_s is not None:
            faulthandler.dump_traceback_later(
                deadline_s + SELF_EXIT_GRACE_S, exit=True, file=watchdog_output
            )
        try:
            answer: tuple[Any, ...] = ("ok", getattr(client, kind)(name, args))
        except ConvexError as error:
            answer = ("convex_error", str(error), error.data)
        except Exception as error:  # the SDK raises plain Exception for a function's failure
            answer = ("error", str(error))
        finally:
            faulthandler.cancel_dump_traceback_later()
        try:
            try:
                write_message(outgoing, answer)
            except ValueError as error:  # a value marshal cannot carry (not a Convex value)
                write_message(outgoing, ("error", f"an answer that cannot be passed on: {error}"))
        except OSError:  # the parent has gone
            return


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol owns the real stdout; anything the SDK prints goes to stderr instead.
    outgoing = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, outgoing)


if __name__ == "__main__":
    main()
