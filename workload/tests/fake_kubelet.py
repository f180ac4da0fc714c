#!/usr/bin/env python3
"""fake_kubelet.py - a kubelet pod-resources endpoint made of raw HTTP/2 frames, for the
tests of workload/h2c.c and workload/podres.c (python3 stdlib only).

Usage: fake_kubelet.py SOCKET MODE

It binds SOCKET.tmp, listens, then renames it to SOCKET, so a client that sees SOCKET can
connect. It serves one connection, checks what the client sent (preface, SETTINGS, the
request HEADERS and the empty gRPC request, ACKs of our SETTINGS and PING) and exits 0 when
the client behaved, 1 (with a reason on stderr) when not.

Modes: ok, empty_data, split (padded DATA in small pieces, stray frames, trailers with CONTINUATION),
ping (a PING before the answer, whose ACK must come back), error (trailers-only gRPC error),
rst (RST_STREAM), goaway, garbage (junk bytes), big_frame (a frame over 16384 bytes),
bad_proto (a message that is not protobuf), close (hang up after the preface),
slow (never answer: the client must time out).
"""
import os
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED = 1, 1, 4, 8


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def devices(resource, *ids, topology=True):
    msg = field_bytes(1, resource) + b"".join(field_bytes(2, i) for i in ids)
    if topology:
        msg += field_bytes(3, field_bytes(1, field_varint(1, 0)))  # TopologyInfo{NUMANode{ID}}
    return msg


def container(name, *devs, cpu_ids=()):
    msg = field_bytes(1, name) + b"".join(field_bytes(2, d) for d in devs)
    if cpu_ids:
        msg += field_bytes(3, b"".join(varint(c) for c in cpu_ids))  # packed int64
    return msg


def list_response():
    gpu0 = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
    gpu1 = "GPU-bbbbbbbb-1111-2222-3333-444444444444"
    mig = "MIG-cccccccc-1111-2222-3333-444444444444"
    shared = "GPU-dddddddd-1111-2222-3333-444444444444"
    pod1 = (field_bytes(1, "vllm-0") + field_bytes(2, "ml-serving")
            + field_bytes(3, container("vllm", devices("nvidia.com/gpu", gpu0, gpu1),
                                       cpu_ids=(2, 3, 300))))
    # Children before the strings, and fields this client does not know.
    pod2 = (field_bytes(3, container("trainer", devices("nvidia.com/mig-1g.10gb", mig),
                                     devices("example.com/nic", "nic-0")))
            + field_varint(99, 7) + struct.pack("<B", 0x7D) + b"\x01\x02\x03\x04"  # 15: fixed32
            + field_bytes(2, "batch") + field_bytes(1, "trainer-xyz"))
    pod3 = (field_bytes(1, "notebook") + field_bytes(2, "research")
            + field_bytes(3, container("jupyter", devices("nvidia.com/gpu", shared + "::0", topology=False)))
            + field_bytes(3, container("sidecar")))
    pod4 = field_bytes(1, "no-devices") + field_bytes(2, "default")
    return b"".join(field_bytes(1, p) for p in (pod1, pod2, pod3, pod4))


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def grpc(msg):
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def literal(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


RESPONSE_HEADERS = b"\x88" + literal(b"content-type", b"application/grpc")
TRAILERS_OK = literal(b"grpc-status", b"0")


class Failure(Exception):
    pass


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(conn):
    h = read_exact(conn, 9)
    length = int.from_bytes(h[0:3], "big")
    return h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7FFFFFFF, read_exact(conn, length)


def read_request(conn, seen):
    """Reads client frames until the request's DATA with END_STREAM."""
    if read_exact(conn, len(PREFACE)) != PREFACE:
        raise Failure("bad client preface")
    got_settings = got_headers = False
    while True:
        ftype, flags, stream, payload = read_frame(conn)
        if ftype == SETTINGS:
            if flags & ACK:
                seen["settings_ack"] = True
            else:
                if len(payload) % 6:
                    raise Failure("bad SETTINGS length")
                got_settings = True
                conn.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and flags & ACK:
            seen["ping_ack"] = payload
        elif ftype == HEADERS:
            if stream != 1 or not flags & END_HEADERS:
                raise Failure("HEADERS not on stream 1 with END_HEADERS")
            if b"/v1.PodResourcesLister/List" not in payload or b"application/grpc" not in payload:
                raise Failure("request headers lack the path or content-type")
            if payload[:1] != b"\x00":
                raise Failure("expected a literal header field without indexing")
            got_headers = True
        elif ftype == DATA:
            if not (got_settings and got_headers):
                raise Failure("DATA before SETTINGS and HEADERS")
            if payload != b"\x00\x00\x00\x00\x00" or not flags & END_STREAM:
                raise Failure("expected an empty gRPC request ending the stream")
            return


def drain(conn, seen, seconds=3.0):
    conn.settimeout(seconds)
    try:
        while True:
            ftype, flags, _, payload = read_frame(conn)
            if ftype == SETTINGS and flags & ACK:
                seen["settings_ack"] = True
            if ftype == PING and flags & ACK:
                seen["ping_ack"] = payload
    except (EOFError, socket.timeout, ConnectionResetError):
        pass


def serve(conn, mode):
    seen = {}
    conn.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100)))  # MAX_CONCURRENT_STREAMS
    if mode == "close":
        read_exact(conn, len(PREFACE))
        return
    if mode == "slow":
        read_request(conn, seen)
        time.sleep(10)
        return
    if mode == "ping":
        conn.sendall(frame(PING, 0, 0, b"12345678"))
    read_request(conn, seen)
    msg = list_response()
    if mode == "empty_data":  # an empty DATA frame before any byte of the body
        conn.sendall(frame(HEADERS, END_HEADERS, 1, RESPONSE_HEADERS) + frame(DATA, 0, 1)
                     + frame(DATA, 0, 1, grpc(msg)) + frame(DATA, 0, 1)
                     + frame(HEADERS, END_HEADERS | END_STREAM, 1, TRAILERS_OK))
    elif mode in ("ok", "ping"):
        conn.sendall(frame(HEADERS, END_HEADERS, 1, RESPONSE_HEADERS) + frame(DATA, 0, 1, grpc(msg))
                     + frame(HEADERS, END_HEADERS | END_STREAM, 1, TRAILERS_OK))
    elif mode == "split":
        body = grpc(msg)
        out = frame(HEADERS, END_HEADERS, 1, RESPONSE_HEADERS) + frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x10\x00")
        for i in range(0, len(body), 7):
            chunk = body[i:i + 7]
            if i % 14 == 0:
                out += frame(DATA, PADDED, 1, bytes([3]) + chunk + b"\x00\x00\x00")
            else:
                out += frame(DATA, 0, 1, chunk)
            if i % 21 == 0:
                out += frame(0xFA, 0, 0, b"unknown frame type")
        out += frame(HEADERS, END_STREAM, 1, TRAILERS_OK[:3]) + frame(CONTINUATION, END_HEADERS, 1, TRAILERS_OK[3:])
        conn.sendall(out)
    elif mode == "error":
        conn.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                           b"\x88" + literal(b"grpc-status", b"12") + literal(b"grpc-message", b"unimplemented")))
    elif mode == "rst":
        conn.sendall(frame(RST_STREAM, 0, 1, struct.pack(">I", 2)))
    elif mode == "goaway":
        conn.sendall(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 2)))
    elif mode == "garbage":
        conn.sendall(bytes(range(256)) * 4)
    elif mode == "big_frame":
        conn.sendall(frame(DATA, 0, 1, b"\x00" * 20000))
    elif mode == "bad_proto":
        conn.sendall(frame(HEADERS, END_HEADERS, 1, RESPONSE_HEADERS)
                     + frame(DATA, END_STREAM, 1, grpc(b"\x0a\x7f\x01\x02")))
    else:
        raise Failure("unknown mode " + mode)
    drain(conn, seen)
    if not seen.get("settings_ack"):
        raise Failure("the client never acknowledged our SETTINGS")
    if mode == "ping" and seen.get("ping_ack") != b"12345678":
        raise Failure("the client did not answer our PING")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    tmp = path + ".tmp"
    for p in (path, tmp):
        if os.path.exists(p):
            os.unlink(p)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(tmp)
    srv.listen(1)
    os.rename(tmp, path)
    srv.settimeout(20)
    conn, _ = srv.accept()
    conn.settimeout(20)
    try:
        serve(conn, mode)
    except (Failure, EOFError, OSError) as e:
        print("fake_kubelet (%s): %s" % (mode, e or "client hung up early"), file=sys.stderr)
        return 1
    finally:
        conn.close()
        srv.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # the test removed its directory first
    return 0


if __name__ == "__main__":
    sys.exit(main())
