"""strata_api.py: what the bench scripts share to read a running stratad:
its HTTP API on the unix socket, the Ready condition, and a bounded wait.
Used by bench/failover and bench/soak; it only reads, never changes the
cluster."""
import http.client
import json
import socket
import sys
import time


class Api:
    def __init__(self, sock, name, timeout=30):
        self.sock = sock
        self.name = name  # the bench's name, for its error lines
        self.timeout = timeout  # seconds one request may take

    def get(self, path):
        sock = self.sock

        class UnixHTTP(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(sock)

        c = UnixHTTP("localhost", timeout=self.timeout)
        c.request("GET", path)
        body = c.getresponse().read()
        c.close()
        return json.loads(body)

    def wait(self, cond, timeout, what, on_timeout=None, poll=0.05):
        """cond() polled every poll s until it is true (returned), for at
        most timeout s; a bench that times what it waits for polls finer."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = cond()
            if v:
                return v
            time.sleep(poll)
        if on_timeout:
            on_timeout()
        sys.exit(f"{self.name}: timed out after {timeout} s waiting for {what}")


def ready(obj):
    """The object's Ready condition is True (a Node or a Pod)."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions", []))
