"""The runtime shim for python3.x functions: the same protocol as shim.ts (see there), for Python handlers.

Started by socket activation with fd 3: with --accept, fd 3 is one connection (one request, then exit); without, fd 3
is the listening socket (serve until idle, then exit 133 so the socket takes the next connection).
"""
import base64
import hashlib
import http.server
import importlib
import io
import json
import os
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
        values = dict(a[2:].partition("=")[::2] for a in argv if a.startswith("--") and "=" in a)
        for name, default in [("runtime", ""), ("code", ""), ("handler", ""), ("function", ""), ("version", "$LATEST"),
                              ("arn", ""), ("memory", "128"), ("timeout", "3"), ("idle", "60")]:
            setattr(self, name, values.get(name, default))


opt = Options(sys.argv[1:])
sys.path.insert(0, opt.code)
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

    def answer(self, status, headers, body):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in headers.items():
            for one in (v if isinstance(v, list) else [v]):
                self.send_header(k, one)
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
                    self.answer(202, base, b"")
                    payload, err, log, timed_out = run(body.decode(), request_id)
                else:
                    payload, err, log, timed_out = run(body.decode(), request_id)
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


if opt.accept:
    conn = socket.socket(fileno=3)
    Handler(conn, ("", 0), None)
    conn.close()
    os._exit(0)
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
