#!/usr/bin/env python3
"""notify-python: a Cascade notifier that runs in its own process.

It appends every notification it receives to a file, one JSON object a line,
and shows how to write an out-of-process plugin in any language: the engine
starts this program, speaks JSON-RPC 2.0 to it on stdin/stdout (each message
framed as in the Language Server Protocol: "Content-Length: N\\r\\n\\r\\n" and N
bytes of UTF-8 JSON), and ends it with `shutdown`.

Methods: initialize, notify, self_test, shutdown. Errors carry code 1 (RETRY:
the engine tries again later) or 2 (ERROR: no retry helps); a method this
program does not know is answered with -32601. It sends the engine "log"
notifications. Only the Python standard library is used.
"""

import datetime
import errno
import json
import os
import sys

NAME = "notify-python"
ABI_MAJOR, ABI_MINOR = 1, 0

RETRY = 1
ERROR = 2
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

LOG_DEBUG, LOG_INFO, LOG_WARN = 1, 2, 3

# Failures of the file that waiting will not mend: a wrong path or missing rights.
PERMANENT_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS}


class Failure(Exception):
    """A method's failure, answered as a JSON-RPC error with this code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class FramingError(Exception):
    """The input stream cannot be read as frames any more."""


def read_frame(stream):
    """Returns the body of the next frame, or None at the end of input."""
    length = None
    while True:
        line = stream.readline(8192)
        if not line:
            return None
        line = line.rstrip(b"\r\n")
        if not line:
            if length is None:
                continue  # a stray blank line between frames
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise FramingError("malformed Content-Length: %r" % value.strip()) from None
            if length < 0:
                raise FramingError("negative Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    return body


def write_frame(stream, message):
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


class Notifier:
    def __init__(self, output):
        self.output = output
        self.path = None
        self.declaration = ""

    def log(self, level, message):
        write_frame(self.output, {"jsonrpc": "2.0", "method": "log", "params": {"level": level, "message": message}})

    # ---- methods

    def initialize(self, params):
        abi = params.get("abi") or {}
        if not isinstance(abi, dict) or abi.get("major") != ABI_MAJOR or not isinstance(abi.get("minor"), int) \
                or abi.get("minor") < ABI_MINOR:
            raise Failure(ERROR, "this plugin speaks ABI %d.%d; the engine offers %s" % (ABI_MAJOR, ABI_MINOR, abi))
        config = params.get("config", {})
        if not isinstance(config, dict):
            raise Failure(ERROR, "config must be an object")
        unknown = sorted(set(config) - {"path"})
        if unknown:
            raise Failure(ERROR, "config.%s is not a setting of %s (it knows path)" % (unknown[0], NAME))
        path = config.get("path")
        if not isinstance(path, str) or not path:
            raise Failure(ERROR, "config.path must name the file to append notifications to")
        self.path = path
        self.declaration = str(params.get("declaration", ""))
        self.log(LOG_DEBUG, "appending notifications to %s" % path)
        return {"name": NAME, "abi": {"major": ABI_MAJOR, "minor": ABI_MINOR}}

    def notify(self, params):
        key = params.get("key")
        if not isinstance(key, str) or not key:
            raise Failure(ERROR, "params.key must be a non-empty string")
        payload = params.get("payload")
        if not isinstance(payload, dict):
            raise Failure(ERROR, "params.payload must be an object")
        # Retries carry the same key: a notification already in the file is not added twice.
        if key in self.keys_written():
            self.log(LOG_INFO, "notification %s is already in %s" % (key, self.path))
            return {"id": key, "duplicate": True}
        line = {
            "key": key,
            "declaration": params.get("declaration", self.declaration),
            "attempt": params.get("attempt", 1),
            "written_at": datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "payload": payload,
        }
        self.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        self.log(LOG_INFO, "%s for %s appended to %s" % (payload.get("event", "notification"),
                                                       payload.get("unit", "?"), self.path))
        return {"id": key}

    def self_test(self, _params):
        folder = os.path.dirname(os.path.abspath(self.path))
        if os.path.exists(self.path):
            ok = os.path.isfile(self.path) and os.access(self.path, os.W_OK)
            detail = "%s is %s" % (self.path, "writable" if ok else "not a writable file")
        else:
            ok = os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)
            detail = "%s %s" % (folder, "can take a new file" if ok else "is not a writable folder")
        checks = [
            {"name": "python", "ok": sys.version_info >= (3, 7), "detail": "Python %d.%d.%d" % sys.version_info[:3]},
            {"name": "path", "ok": ok, "detail": detail},
        ]
        return {"checks": checks}

    # ---- the file

    def keys_written(self):
        keys = set()
        try:
            with open(self.path, "rb") as lines:
                for raw in lines:
                    try:
                        entry = json.loads(raw)
                    except ValueError:
                        continue  # a line cut short by a crash: its notification is sent again
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                        keys.add(entry["key"])
        except FileNotFoundError:
            pass
        except OSError as failure:
            raise self.file_failure(failure) from None
        return keys

    def append(self, text):
        data = text.encode("utf-8") + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # A line cut short by a crash must not swallow the next one.
                size = os.fstat(fd).st_size
                if size > 0:
                    with open(self.path, "rb") as existing:
                        existing.seek(size - 1)
                        if existing.read(1) != b"\n":
                            data = b"\n" + data
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as failure:
            raise self.file_failure(failure) from None

    def file_failure(self, failure):
        code = ERROR if failure.errno in PERMANENT_ERRNOS else RETRY
        return Failure(code, "%s: %s" % (self.path, failure.strerror or failure))


def error_reply(message_id, code, message):
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}


def serve(source, sink):
    notifier = Notifier(sink)
    methods = {"initialize": notifier.initialize, "notify": notifier.notify, "self_test": notifier.self_test}
    while True:
        try:
            body = read_frame(source)
        except FramingError as failure:
            sys.stderr.write("%s: %s\n" % (NAME, failure))
            return 1
        if body is None:
            return 0
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as failure:
            write_frame(sink, error_reply(None, PARSE_ERROR, "parse error: %s" % failure))
            continue
        if not isinstance(message, dict) or not isinstance(message.get("method", ""), str):
            write_frame(sink, error_reply(message.get("id") if isinstance(message, dict) else None,
                                          INVALID_REQUEST, "invalid request"))
            continue
        if "method" not in message:
            continue  # an answer to a request this program never sends
        method = message["method"]
        expects_answer = "id" in message
        message_id = message.get("id")
        params = message.get("params", {})
        if method == "shutdown":
            if expects_answer:
                write_frame(sink, {"jsonrpc": "2.0", "id": message_id, "result": None})
            return 0
        handler = methods.get(method)
        if handler is None:
            if expects_answer:
                write_frame(sink, error_reply(message_id, METHOD_NOT_FOUND, "method not found: %s" % method))
            continue
        if not isinstance(params, dict):
            if expects_answer:
                write_frame(sink, error_reply(message_id, INVALID_PARAMS, "params must be an object"))
            continue
        try:
            if method != "initialize" and notifier.path is None:
                raise Failure(ERROR, "not initialized")
            reply = {"jsonrpc": "2.0", "id": message_id, "result": handler(params)}
        except Failure as failure:
            reply = error_reply(message_id, failure.code, failure.message)
        except Exception as failure:  # a bug here must not end the conversation; the engine retries
            reply = error_reply(message_id, RETRY, "%s failed: %s: %s" % (method, type(failure).__name__, failure))
        if expects_answer:
            write_frame(sink, reply)


def main():
    try:
        return serve(sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the engine went away mid-answer: nobody is left to tell


if __name__ == "__main__":
    sys.exit(main())
