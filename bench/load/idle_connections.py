#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, makes one GET /healthz on each, and holds them idle
until stdin closes. Prints "ready N" once every connection has had its answer."""
import socket
import sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
    conns.append(s)
for s in conns:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("idle_connections: the server closed a connection")
        data += chunk
print(f"ready {len(conns)}", flush=True)
sys.stdin.read()
