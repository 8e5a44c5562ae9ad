#!/usr/bin/env python3
"""A TLS front on loopback that passes every request on to an upstream.

Tests put it between hfitop and meshsim's API server, or Debian's
Prometheus, to serve TLS with a certificate of their own or to act while a
request is in flight. Requests go on over HTTP/1.1 (with a client
certificate when --cert/--key are given); answers come back re-chunked as
they stream (watches). What it may do besides:

  --hold REGEX --seconds N   the answer of a non-GET request whose path
                             matches waits N seconds before it goes back
                             (switch namespace while an apply is in flight)
  --stale REGEX --write-method M --write-path P --write-type T --write-body B
                             the first GET whose path matches is answered
                             with what the upstream said, but only after the
                             front sent that write of its own: the client
                             acts on an object changed since it read it

  tls_front.py --upstream URL [--ca CA --cert C --key K] --serve-cert SC --serve-key SK
               --port-file FILE [--hold ... | --stale ...]
"""
import argparse
import http.client
import http.server
import os
import re
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--upstream", "--serve-cert", "--serve-key", "--port-file"):
        ap.add_argument(flag, required=True)
    for flag in ("--ca", "--cert", "--key", "--hold", "--stale", "--write-method", "--write-path", "--write-type",
                 "--write-body"):
        ap.add_argument(flag)
    ap.add_argument("--seconds", type=float, default=0)
    args = ap.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    hold = re.compile(args.hold) if args.hold else None
    stale = re.compile(args.stale) if args.stale else None
    client_ctx = None
    if upstream.scheme == "https":
        client_ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            client_ctx.load_cert_chain(args.cert, args.key)
    stale_once = threading.Lock()
    stale_done = []

    def connect():
        if client_ctx:
            return http.client.HTTPSConnection(upstream.hostname, upstream.port, context=client_ctx, timeout=60)
        return http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)

    def write_behind_the_read():
        with stale_once:
            if stale_done:
                return
            stale_done.append(True)
            conn = connect()
            conn.request(args.write_method, args.write_path, body=args.write_body.encode(),
                         headers={"Content-Type": args.write_type})
            status = conn.getresponse().status
            conn.close()
            print("stale read: %s %s answered %d" % (args.write_method, args.write_path, status), file=sys.stderr,
                  flush=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def send_chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = connect()
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            whole = None
            if stale and self.command == "GET" and stale.search(self.path):
                whole = resp.read()
                write_behind_the_read()
            if hold and self.command != "GET" and hold.search(self.path):
                time.sleep(args.seconds)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if whole:
                    self.send_chunk(whole)
                while whole is None:
                    chunk = resp.read1(65536)
                    if not chunk:
                        break
                    self.send_chunk(chunk)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that refuses the certificate ends the handshake: what
            # some tests want to see, not an error here.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    serve_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serve_ctx.load_cert_chain(args.serve_cert, args.serve_key)
    serve_ctx.set_alpn_protocols(["http/1.1"])
    server.socket = serve_ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
