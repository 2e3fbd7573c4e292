"""Anonymous attackers at the coordinator's HTTP edge (used by tests/cli/http_edge.sh
and bench/attack.sh): raw TLS and TCP clients on loopback. Prints "ok: ..." or
"FAIL: ..." lines.

  http_edge.py stall PORT MEMBER_TOKEN SPEC_FILE   huge announced bodies without credentials
  http_edge.py slowloris PORT HEADER_TIMEOUT_S     300 silent TCP connections from 127.0.0.2
  http_edge.py flood PORT N                        N anonymous requests with 8 KB URLs
  http_edge.py hold PORT CONNS SECONDS [SOURCE]    CONNS anonymous connections trickling bodies
  http_edge.py member PORT TOKEN SPEC_FILE SECONDS  a member's POST /v1/jobs every 0.5 s, one line each
"""
import socket, ssl, sys, time, http.client, json

HOST = "127.0.0.1"


def tls(port, source=None, timeout=5):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((HOST, port), timeout=timeout, source_address=source)
    return ctx.wrap_socket(raw)


def status_line(sock, timeout):
    """The status code of the first answer on sock within timeout s, or None."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n" not in buf:
            d = sock.recv(4096)
            if not d:
                break
            buf += d
    except (socket.timeout, OSError):
        pass
    parts = buf.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and buf.startswith(b"HTTP/") else None


def report(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)


def member_post(port, token, body, timeout):
    """POST /v1/jobs as a member: (status, seconds) or (None, seconds) on a timeout."""
    t0 = time.monotonic()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ctx)
    try:
        c.request("POST", "/v1/jobs", body=body, headers={"Authorization": "Bearer " + token,
                                                           "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - t0
    except (socket.timeout, OSError):
        return None, time.monotonic() - t0
    finally:
        c.close()


def stall(port, token, spec_file):
    body = open(spec_file, "rb").read()
    hold = []
    for path in ("/v1/jobs", "/v1/jobs/1/rounds/1/update"):
        s = tls(port)
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n" + b"x" * 10)
        st = status_line(s, 3)
        report(st == 401, "no credentials, 256 MiB announced to %s: answered %s at once, body not awaited" % (path, st))
        hold.append(s)
    st, secs = member_post(port, token, body, 5)
    report(st == 201, "a member's POST /v1/jobs while anonymous uploads are held open: %s" % st)
    s = tls(port)
    s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
              b"\r\nContent-Length: 268435456\r\n\r\n" + b"x" * 10)
    st = status_line(s, 3)
    report(st == 413, "a member announcing 256 MiB to a JSON route: %s (limit 1 MiB)" % st)
    s.close()
    for h in hold:
        h.close()


def slowloris(port, header_timeout):
    socks, refused = [], 0
    for _ in range(300):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        try:
            s.connect((HOST, port))
            socks.append(s)
        except OSError:
            refused += 1
    time.sleep(0.5)
    t0 = time.monotonic()
    try:
        c = tls(port, timeout=5)
        c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st = status_line(c, 5)
        c.close()
    except (socket.timeout, OSError) as e:
        st = "error %s" % e
    report(st == 200, "GET /v1/health with 300 silent connections open from 127.0.0.2: %s" % st)

    def open_count():
        """connections the server has neither closed nor spoken on (a TLS alert precedes a close)"""
        n = 0
        for s in socks:
            s.setblocking(False)
            try:
                s.recv(1)
            except BlockingIOError:
                n += 1
            except OSError:
                pass
        return n
    time.sleep(0.5)
    n = open_count()
    report(n <= 64, "of 300 connections from one address, %d kept (at most 64)" % n)
    # headers trickled a byte every 0.25 s: never idle, yet cut at the deadline
    t = tls(port)
    t.sendall(b"POST /v1/jobs HTTP/1.1\r\nContent-Length: 268435456\r\n")
    t0, cut = time.monotonic(), None
    while time.monotonic() - t0 < header_timeout + 3:
        try:
            t.send(b"X")
        except OSError:
            cut = time.monotonic() - t0
            break
        time.sleep(0.25)
    t.close()
    report(cut is not None, "headers trickled a byte every 0.25 s: connection cut after %s s (header timeout %d s)"
           % ("%.1f" % cut if cut else "no cut in %d" % (header_timeout + 3), header_timeout))
    time.sleep(max(0, header_timeout + 2 - (time.monotonic() - t0)))
    n = open_count()
    report(n == 0, "%d silent connections still open %d s after the %d s handshake timeout" % (n, 2, header_timeout))
    for s in socks:
        s.close()


def flood(port, n):
    url = b"/v1/jobs?" + b"a" * 8000
    answered = 0
    for _ in range(n):
        s = tls(port)
        s.sendall(b"GET " + url + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answered += status_line(s, 5) == 401
        s.close()
    report(answered == n, "%d of %d anonymous requests with 8 KB URLs answered 401" % (answered, n))


def hold(port, conns, seconds, source=None):
    """conns anonymous connections, each announcing a 256 MiB body and trickling its
    headers a byte a second (the most an anonymous client can hold: a complete
    header block is answered 401 at once), reconnecting when cut, for `seconds`."""
    socks = []
    def opened():
        try:
            s = tls(port, timeout=5, source=(source, 0) if source else None)
            s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\nX-Pad: ")
            s.setblocking(False)
            return s
        except OSError:
            return None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        socks = [s for s in socks if s is not None]
        while len(socks) < conns and time.monotonic() < end:
            socks.append(opened())
            socks = [s for s in socks if s is not None]
        alive = []
        for s in socks:
            try:
                s.send(b"x")
                alive.append(s)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        time.sleep(1)
    for s in socks:
        s.close()


def member(port, token, spec_file, seconds):
    body = open(spec_file, "rb").read()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        st, secs = member_post(port, token, body, 30)
        print("post_ms=%.1f status=%s" % (1000 * secs, st), flush=True)
        time.sleep(0.5)


if __name__ == "__main__":
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "stall":
        stall(port, sys.argv[3], sys.argv[4])
    elif cmd == "slowloris":
        slowloris(port, int(sys.argv[3]))
    elif cmd == "flood":
        flood(port, int(sys.argv[3]))
    elif cmd == "hold":
        hold(port, int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)
    elif cmd == "member":
        member(port, sys.argv[3], sys.argv[4], float(sys.argv[5]))
