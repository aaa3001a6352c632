"""The front of a per-request function (src/host/functions.ts): a request's runtime process started before it arrives.

Started by socket activation with the function's listening socket on fd 3 (Accept=no). The function's worker socket
(--workers) is an Accept=yes socket: every connection to it starts the runtime shim with `--accept` in a sandbox of its
own (its own /tmp, PID namespace, user), which loads the runtime and the handler and then serves the one request that
comes on that connection and exits. The front connects to it one request ahead: for each connection it accepts, it
takes the connection made ahead (its runtime has been starting, usually has started, since the last request ended), or
makes one if there is none (requests at once), and relays the bytes both ways until the runtime closes; once a request
is over and no connection waits ahead, it makes the next. Not sooner: a process starting while the request's own still
starts would take half the CPU from it (requests back to back wait for their process as they did without a front;
requests a moment apart find it started). Every request still gets a process of its own, fresh from the handler's load
(nothing of one request is seen by the next); only its start is off the path.

At most --concurrency requests at once (the rest wait in the listen backlog); a request whose runtime has not closed
--timeout seconds (and a minute more: its process may have had to start, on a busy host) after it was handed over gives
its slot back, its connection closed (the process is its unit's to end). After
--idle seconds without a request it closes the connection made ahead (that runtime exits without having served
anything) and exits 133: the socket takes the next connection (scale to zero).

The front never reads what it relays: it holds no tenant data and runs no tenant code. Python's standard library only,
run with -I -S (a start of ~10 ms: the first request after idle pays it).
"""
import os
import select
import socket
import sys
import threading
import time


def options(argv):
    values = dict(a[2:].partition("=")[::2] for a in argv if a.startswith("--") and "=" in a)
    return values["workers"], max(1, int(values.get("concurrency", "1"))), float(values.get("idle", "60")), float(values.get("timeout", "3"))


WORKERS, CONCURRENCY, IDLE, TIMEOUT = options(sys.argv[1:])
CHUNK = 256 * 1024
slots = threading.BoundedSemaphore(CONCURRENCY)
lock = threading.Lock()
state = {"active": 0, "last": time.monotonic()}
ahead = [None]  # the connection to the next request's runtime (under lock)


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(WORKERS)
    except OSError:
        s.close()
        raise
    return s


def waiting(s):
    """A runtime started ahead sends nothing before its request: one that did (or closed) has ended."""
    readable, _, _ = select.select([s], [], [], 0)
    return not readable


def take():
    """The connection to a runtime for this request: the one made ahead if it still waits, else a new one."""
    with lock:
        s, ahead[0] = ahead[0], None
    if s is not None and not waiting(s):
        s.close()
        s = None
    return s if s is not None else connect()


def refill():
    """A connection made ahead, for the next request, if none waits."""
    with lock:
        if ahead[0] is not None:
            return
        try:
            ahead[0] = connect()
        except OSError as e:
            sys.stderr.write("pcloud front: cannot start the next runtime ahead: %s\n" % e.strerror)


def pump(client, worker):
    """Bytes both ways until the runtime closes (its answer is complete) or the request's time is up."""
    poller = select.poll()
    poller.register(client.fileno(), select.POLLIN)
    poller.register(worker.fileno(), select.POLLIN)
    deadline = time.monotonic() + TIMEOUT + 60
    answered = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stderr.write("pcloud front: a request's runtime did not answer in %d s: its connection closed\n" % (TIMEOUT + 60))
            return
        for fd, _ in poller.poll(left * 1000):
            src, dst = (client, worker) if fd == client.fileno() else (worker, client)
            try:
                data = src.recv(CHUNK)
            except OSError:
                return
            if not data:
                if src is worker:
                    if not answered:
                        sys.stderr.write("pcloud front: a request's runtime ended without answering\n")
                    return
                # The client has sent all it will: the runtime sees that too, and its answer may still come.
                poller.unregister(fd)
                try:
                    worker.shutdown(socket.SHUT_WR)
                except OSError:
                    return
                continue
            answered = answered or src is worker
            try:
                dst.sendall(data)
            except OSError:
                return


def relay(client, worker):
    try:
        pump(client, worker)
    finally:
        for s in (client, worker):
            try:
                s.close()
            except OSError:
                pass
        with lock:
            state["active"] -= 1
            state["last"] = time.monotonic()
        slots.release()
        refill()


def idle():
    with lock:
        return state["active"] == 0 and time.monotonic() - state["last"] > IDLE


def main():
    listener = socket.socket(fileno=3)
    listener.settimeout(min(1.0, IDLE / 4))
    # The connection that started the front is waiting: its runtime starts now.
    refill()
    while True:
        if not slots.acquire(timeout=1.0):
            continue
        try:
            client, _ = listener.accept()
        except socket.timeout:
            slots.release()
            if idle():
                break
            continue
        client.setblocking(True)
        with lock:
            state["active"] += 1
        try:
            worker = take()
        except OSError as e:
            sys.stderr.write("pcloud front: cannot start a runtime: %s\n" % e.strerror)
            client.close()
            with lock:
                state["active"] -= 1
            slots.release()
            continue
        threading.Thread(target=relay, args=(client, worker), daemon=True).start()
    with lock:
        if ahead[0] is not None:
            ahead[0].close()
        os._exit(133)


if __name__ == "__main__":
    main()
