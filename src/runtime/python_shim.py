"""The runtime shim for python3.x functions: the same protocol as shim.ts (see there), for Python handlers.

Started by socket activation with fd 3: with --accept, fd 3 is one connection (the handler loaded first, then one
request, then exit; a connection closed before any request ends it too); without, fd 3 is the listening socket (serve
until idle, then exit 133 so the socket takes the next connection).
"""
import base64
import hashlib
import http.server
import importlib
import io
import json
import os
import select
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timezone


class Options:
    """The unit's command line: --accept and --NAME=VALUE (argparse would add ~5 ms to every cold start)."""
    def __init__(self, argv):
        self.accept = "--accept" in argv
        self.prefork = "--prefork" in argv
        # /tmp is the sandbox's own (a tmpfs of its own under both managers): prefork may put it back between requests.
        self.private_tmp = "--private-tmp" in argv
        values = dict(a[2:].partition("=")[::2] for a in argv if a.startswith("--") and "=" in a)
        for name, default in [("runtime", ""), ("code", ""), ("handler", ""), ("function", ""), ("version", "$LATEST"),
                              ("arn", ""), ("memory", "128"), ("timeout", "3"), ("idle", "60"),
                              ("concurrency", "1"), ("credentials", "")]:
            setattr(self, name, values.get(name, default))


opt = Options(sys.argv[1:])

# The file pcloud keeps the function's role credentials in (renewed before they expire), and the variables the SDKs
# read them from (AWS_CREDENTIAL_EXPIRATION makes botocore's environment credentials refreshable: it reads the
# variables again, renewed by then, as they near their end).
CREDENTIAL_VARS = (("AccessKeyId", "AWS_ACCESS_KEY_ID"), ("SecretAccessKey", "AWS_SECRET_ACCESS_KEY"),
                   ("Token", "AWS_SESSION_TOKEN"), ("Expiration", "AWS_CREDENTIAL_EXPIRATION"))
_credentials = {"stamp": ()}


def credentials():
    """The function's role credentials in the environment: read from --credentials before the handler loads and again
    before each invoke when the file changed (one stat otherwise); none while there is no file."""
    if not opt.credentials:
        return
    try:
        st = os.stat(opt.credentials)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    if stamp == _credentials["stamp"]:
        return
    _credentials["stamp"] = stamp
    values = {}
    if stamp is not None:
        try:
            with open(opt.credentials) as f:
                c = json.load(f)
            values = {var: c[k] for k, var in CREDENTIAL_VARS if isinstance(c.get(k), str)}
        except (OSError, ValueError, AttributeError) as e:
            sys.stderr.write("pcloud shim: the function's credentials could not be read: %s\n" % type(e).__name__)
    for _, var in CREDENTIAL_VARS:
        if var in values:
            os.environ[var] = values[var]
        else:
            os.environ.pop(var, None)


credentials()
sys.path.insert(0, opt.code)

# The AWS SDK for Python as Lambda's runtime has it (its /var/runtime): boto3 installed by .ci/setup-host, under /usr
# (every sandbox shows /usr). After the function's code and layers (PYTHONPATH), so a boto3 it brings wins; before the
# interpreter's own packages, so Debian's older python3-boto3 (no AWS_ENDPOINT_URL) does not.
SDK = "/usr/local/lib/pcloud/python-sdk"
if os.path.isdir(SDK):
    _stdlib = next((i for i, p in enumerate(sys.path) if i > 0 and p.startswith(sys.base_prefix + "/lib")), len(sys.path))
    sys.path.insert(_stdlib, SDK)
os.chdir(opt.code)
TIMEOUT = float(opt.timeout)
_handler = None
_lock = threading.Lock()
state = {"active": 0, "last": time.time()}


class Context:
    def __init__(self, request_id, deadline):
        self.function_name = opt.function
        self.function_version = opt.version
        self.invoked_function_arn = opt.arn
        self.memory_limit_in_mb = opt.memory
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + opt.function
        self.log_stream_name = "pcloud/%d" % os.getpid()
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def load():
    global _handler
    if _handler is None:
        module, _, fn = opt.handler.rpartition(".")
        _handler = getattr(importlib.import_module(module), fn)
    return _handler


class Capture(io.TextIOBase):
    """stdout during an invocation: to the unit's log and to the invocation's tail."""

    def __init__(self, real):
        self.real, self.buf = real, []

    def write(self, s):
        self.real.write(s)
        self.real.flush()
        self.buf.append(s)
        return len(s)


def run(event, request_id):
    started = time.time()
    cap = Capture(sys.__stdout__)
    cap.write("START RequestId: %s Version: %s\n" % (request_id, opt.version))
    result = {}

    def call():
        old = sys.stdout
        sys.stdout = cap
        try:
            result["value"] = json.dumps(load()(json.loads(event) if event else {}, Context(request_id, started + TIMEOUT)))
        except Exception as e:  # the handler's error, as Lambda reports it
            import traceback  # only on errors: it costs every cold start ~2 ms
            tb = traceback.extract_tb(e.__traceback__)[1:]  # from the handler down, not the shim's frame
            err = {"errorMessage": str(e), "errorType": type(e).__name__, "requestId": request_id,
                   "stackTrace": traceback.format_list(tb)}
            cap.write("[ERROR] %s: %s\n" % (type(e).__name__, e))
            result["error"] = json.dumps(err)
        finally:
            sys.stdout = old

    credentials()
    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(TIMEOUT)
    timed_out = t.is_alive()
    if timed_out:
        msg = "%s %s Task timed out after %.2f seconds" % (datetime.now(timezone.utc).isoformat(), request_id, TIMEOUT)
        result = {"error": json.dumps({"errorMessage": msg})}
    ms = (time.time() - started) * 1000
    cap.write("END RequestId: %s\n" % request_id)
    cap.write("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %s MB\t\n" % (request_id, ms, max(1, int(ms + 0.999)), opt.memory))
    return result.get("error") or result.get("value", "null"), "error" in result, "".join(cap.buf), timed_out


def url_event(h, body, request_id):
    path, _, query = h.path.partition("?")
    headers = {k.lower(): v for k, v in h.headers.items() if not k.lower().startswith("x-pcloud-")}
    text = (headers.get("content-type") or "text/plain").startswith(("text/", "application/json", "application/xml", "application/x-www-form-urlencoded"))
    now = datetime.now(timezone.utc)
    ev = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": headers,
          "requestContext": {"http": {"method": h.command, "path": path, "protocol": h.request_version, "sourceIp": h.headers.get("x-real-ip", ""),
                                      "userAgent": headers.get("user-agent", "")},
                             "requestId": request_id, "routeKey": "$default", "stage": "$default",
                             "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)},
          "isBase64Encoded": bool(body) and not text}
    if query:
        ev["queryStringParameters"] = dict(kv.partition("=")[::2] for kv in query.split("&"))
    if body:
        ev["body"] = body.decode() if text else base64.b64encode(body).decode()
    return json.dumps(ev).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    holding = False  # the handler may still use /tmp after this answer (an Event's, a timed out one's)

    def answer(self, status, headers, body):
        if not self.holding:
            finished()
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in headers.items():
            if str(k).lower().startswith("x-pcloud-"):  # pcloud's own: a handler's URL response does not give them
                continue
            for one in (v if isinstance(v, list) else [v]):
                self.send_header(k, one)
        # This process's first answer says so: a cold start (src/cloud/functions/invocation-stats.ts). A forked child
        # (prefork) has its own copy of the word, its parent never answers: each child's one answer is its first.
        try:
            _first.pop()
            self.send_header("X-Pcloud-Cold-Start", "1")
        except IndexError:
            pass
        self.send_header("Content-Length", str(len(body)))
        if opt.accept:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def handle_any(self):
        with _lock:
            state["active"] += 1
        try:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request_id = self.headers.get("x-pcloud-request-id") or str(uuid.uuid4())
            declared = self.headers.get("x-amz-content-sha256", "")
            if len(declared) == 64 and hashlib.sha256(body).hexdigest() != declared:
                return self.answer(400, {"content-type": "application/json"}, '{"__type":"InvalidSignatureException","message":"The payload does not match its signed hash"}')
            if self.headers.get("x-pcloud-url"):
                payload, err, _, timed_out = run(url_event(self, body, request_id), request_id)
                self.holding = timed_out
                if err:
                    self.answer(502, {"content-type": "application/json"}, '{"Message":"Internal Server Error"}')
                else:
                    v = json.loads(payload)
                    if isinstance(v, dict) and "statusCode" in v:
                        hs = {"content-type": "application/json", **(v.get("headers") or {})}
                        if v.get("cookies"):
                            hs["set-cookie"] = v["cookies"]
                        b = v.get("body") or ""
                        self.answer(v["statusCode"], hs, base64.b64decode(b) if v.get("isBase64Encoded") else b)
                    else:
                        self.answer(200, {"content-type": "application/json"}, v if isinstance(v, str) else json.dumps(v))
            else:
                kind = self.headers.get("x-amz-invocation-type") or "RequestResponse"
                base = {"x-amzn-requestid": request_id, "x-amz-executed-version": opt.version}
                if kind == "DryRun":
                    return self.answer(204, base, b"")
                if kind == "Event":
                    self.holding = True
                    self.answer(202, base, b"")
                    payload, err, log, timed_out = run(body.decode(), request_id)
                    if not timed_out:
                        finished()
                else:
                    payload, err, log, timed_out = run(body.decode(), request_id)
                    self.holding = timed_out
                    hs = {"content-type": "application/json", **base}
                    if err:
                        hs["x-amz-function-error"] = "Unhandled"
                    if self.headers.get("x-amz-log-type") == "Tail":
                        hs["x-amz-log-result"] = base64.b64encode(log.encode()[-4096:]).decode()
                    self.answer(200, hs, payload)
            if timed_out:  # the handler still runs: this process cannot take another request
                threading.Timer(0.05, lambda: os._exit(1 if opt.accept else 133)).start()
        finally:
            with _lock:
                state["active"] -= 1
                state["last"] = time.time()

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


_done = {"fd": None}
_first = [True]  # popped by the first answer (list.pop is atomic: one of several threads at once gets it)


def finished():
    """The request's handler is done (with /tmp too): a forked child tells its parent (prefork), before it answers."""
    fd, _done["fd"] = _done["fd"], None
    if fd is not None:
        try:
            os.write(fd, b"d")
        except OSError:
            pass
        os.close(fd)


def serve_one(conn):
    """The connection's one request (a process of its own), then exit."""
    Handler(conn, ("", 0), None)
    conn.close()
    os._exit(0)


def limit_memory():
    """A forked child's own memory: what it has from its parent, and the function's memory (and 64 MiB for its threads)
    more at most (RLIMIT_DATA: Python's allocations then fail with MemoryError, the handler's error), as each process of
    a per-request unit had under systemd, whose one service now holds them all."""
    import resource
    try:
        with open("/proc/self/status") as f:
            data = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
        cap = data + (int(opt.memory) + 64) * 2 ** 20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    except (OSError, StopIteration, ValueError) as e:  # the request is still served, within its unit's limits
        sys.stderr.write("pcloud shim: no memory limit of its own for this invoke: %s\n" % e)


def preload():
    """The handler loaded before the request comes. One that fails to load fails again, as the invoke's error, when the
    request runs it."""
    try:
        load()
    except BaseException:  # SystemExit too: the invoke meets it again
        pass


def prefork():
    """Per request, forking: fd 3 is the listening socket. The handler is loaded once, here; every connection is served
    by a child forked for it (its module state a copy of the loaded one: nothing of one request reaches another), which
    serves the one request and exits. At most --concurrency children at once (the rest wait in the listen backlog); a
    child still running --timeout seconds (and 5 more) after its fork is killed, with whatever it started. What a
    request leaves running after its answer is ended when it exits (this process is their subreaper), and (with
    --private-tmp: the sandbox's own, never as root) /tmp is put back as the handler's load left it (its own files kept) whenever no request's handler runs (a child says when its
    handler is done, before it answers): a request never sees what an earlier one wrote there (one running at the same
    time may). Exits 133 after --idle seconds without a request (the socket takes the next connection)."""
    import ctypes
    import gc
    import shutil
    import signal

    listener = socket.socket(fileno=3)
    preload()
    # Never the host's /tmp (a shim run outside its sandbox), never as root.
    wipe = opt.private_tmp and os.getuid() != 0
    kept = set(os.listdir("/tmp")) if wipe else set()
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    gc.freeze()  # the loaded heap stays shared with the children (copy on write)
    limit = max(1, int(opt.concurrency))
    idle = float(opt.idle)
    children = {}  # pidfd -> (pid, deadline)
    running = {}  # a child's "done" pipe -> its pidfd, until its handler is done
    poller = select.poll()
    polling = False
    dirty = False
    last = time.monotonic()

    def end_strays():
        """Processes that came to us (their parent, a request's child, ended): killed, and every ended one reaped."""
        me = str(os.getpid())
        mine = {pid for pid, _ in children.values()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = f.read().rpartition(")")[2].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == me:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def wipe_tmp():
        for name in os.listdir("/tmp"):
            if name in kept:
                continue
            path = os.path.join("/tmp", name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    while True:
        if len(children) < limit and not polling:
            poller.register(listener.fileno(), select.POLLIN)
            polling = True
        elif len(children) >= limit and polling:
            poller.unregister(listener.fileno())
            polling = False
        now = time.monotonic()
        wake = min([d for _, d in children.values()] + ([] if children else [last + idle]))
        # What children said and did first: a request that comes after one answered finds it done.
        for fd, _ in sorted(poller.poll(max(0.0, wake - now) * 1000 + 1), key=lambda e: e[0] == listener.fileno()):
            if fd in running:
                del running[fd]
                poller.unregister(fd)
                os.close(fd)
                continue
            if fd in children:
                pid, _ = children.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                for r, owner in list(running.items()):
                    if owner == fd:
                        del running[r]
                        poller.unregister(r)
                        os.close(r)
                try:
                    os.killpg(pid, signal.SIGKILL)  # what it started and left running
                except OSError:
                    pass
                end_strays()
                last = time.monotonic()
                continue
            if fd != listener.fileno():
                continue  # closed above in this round (a child's pipe, with the child)
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setblocking(True)
            if wipe and not running and dirty:
                wipe_tmp()
            dirty = True
            done_r, done_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    listener.close()
                    for other in [*children, *running, done_r]:
                        os.close(other)
                    _done["fd"] = done_w
                    os.setpgid(0, 0)
                    limit_memory()
                    opt.accept = True
                    serve_one(conn)
                finally:
                    os._exit(0)
            conn.close()
            os.close(done_w)
            try:
                os.setpgid(pid, pid)  # also here: the child may not have run yet when its deadline comes
            except OSError:
                pass
            pidfd = os.pidfd_open(pid)
            children[pidfd] = (pid, time.monotonic() + TIMEOUT + 5)
            poller.register(pidfd, select.POLLIN)
            running[done_r] = pidfd
            poller.register(done_r, select.POLLIN)
        now = time.monotonic()
        for pidfd, (pid, deadline) in children.items():
            if now > deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not children and now - last > idle:
            listener.close()
            os._exit(133)


if opt.prefork:
    prefork()
elif opt.accept:
    # The handler loaded before the request comes: this process may have been started ahead of it (front.py).
    preload()
    serve_one(socket.socket(fileno=3))
else:
    class Server(http.server.ThreadingHTTPServer):
        def server_bind(self):
            pass

        def server_activate(self):
            pass

    srv = Server(("", 0), Handler, bind_and_activate=False)
    srv.socket = socket.socket(fileno=3)

    def idle():
        while True:
            time.sleep(min(1.0, float(opt.idle) / 4))
            with _lock:
                if state["active"] == 0 and time.time() - state["last"] > float(opt.idle):
                    os._exit(133)

    threading.Thread(target=idle, daemon=True).start()
    srv.serve_forever()
