#!/usr/bin/env python3
"""A TLS front for meshsim that makes one read stale.

The first GET whose path matches --stale is answered with what meshsim said,
but only after the front has sent a write of its own to meshsim (--write-*):
the client then acts on an object that has changed since it was read, as it
would when someone else writes between its read and its write. Every other
request is passed on over HTTP/1.1 with meshsim's client certificate.

  stale_read.py --upstream https://127.0.0.1:PORT --ca CA --cert C --key K \
                --serve-cert SC --serve-key SK --stale REGEX --write-method PATCH \
                --write-path PATH --write-type CONTENT-TYPE --write-body JSON --port-file FILE
"""
import argparse
import http.client
import http.server
import re
import socketserver
import ssl
import sys
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--upstream", "--ca", "--cert", "--key", "--serve-cert", "--serve-key", "--stale",
                 "--write-method", "--write-path", "--write-type", "--write-body", "--port-file"):
        ap.add_argument(flag, required=True)
    args = ap.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)
    stale = re.compile(args.stale)
    client_ctx = ssl.create_default_context(cafile=args.ca)
    client_ctx.load_cert_chain(args.cert, args.key)
    once = threading.Lock()
    done = []

    def send(method, path, body, headers):
        conn = http.client.HTTPSConnection(upstream.hostname, upstream.port, context=client_ctx)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp, resp.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            resp, data = send(self.command, self.path, body, headers)
            if self.command == "GET" and stale.search(self.path):
                with once:
                    if not done:
                        done.append(True)
                        w, wdata = send(args.write_method, args.write_path, args.write_body.encode(),
                                        {"Content-Type": args.write_type})
                        print("stale read: %s %s answered %d" % (args.write_method, args.write_path, w.status),
                              file=sys.stderr, flush=True)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    serve_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serve_ctx.load_cert_chain(args.serve_cert, args.serve_key)
    server.socket = serve_ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
