#!/usr/bin/env python3
"""A TLS front for meshsim that holds the answers of chosen writes.

The console tests put it between hfitop and meshsim to act while a write
is in flight (switch namespace before an apply answers, say). Every request
is passed on over HTTP/1.1 with meshsim's client certificate; the answer of
a non-GET request whose path matches --hold waits --seconds before it goes
back. Answers stream (watches), re-chunked.

  hold_writes.py --upstream https://127.0.0.1:PORT --ca CA --cert C --key K \
                 --serve-cert SC --serve-key SK --hold REGEX --seconds N --port-file FILE
"""
import argparse
import http.client
import http.server
import re
import socketserver
import ssl
import sys
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--upstream", "--ca", "--cert", "--key", "--serve-cert", "--serve-key", "--hold", "--port-file"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    hold = re.compile(args.hold)
    client_ctx = ssl.create_default_context(cafile=args.ca)
    client_ctx.load_cert_chain(args.cert, args.key)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPSConnection(upstream.hostname, upstream.port, context=client_ctx)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            if self.command != "GET" and hold.search(self.path):
                time.sleep(args.seconds)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    chunk = resp.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    serve_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serve_ctx.load_cert_chain(args.serve_cert, args.serve_key)
    serve_ctx.set_alpn_protocols(["http/1.1"])
    server.socket = serve_ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file, "w") as f:
        f.write("%d\n" % server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
