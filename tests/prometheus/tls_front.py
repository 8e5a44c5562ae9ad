#!/usr/bin/env python3
"""A TLS front on loopback for a plain-HTTP Prometheus.

tests/prometheus/source.sh puts it before Debian's Prometheus (which it
starts without TLS) to check --prometheus-ca and
--prometheus-insecure-skip-tls-verify: every request is passed on to the
upstream unchanged and the answer comes back whole.

  tls_front.py --upstream http://127.0.0.1:PORT --cert CERT --key KEY --port-file FILE
"""
import argparse
import http.client
import http.server
import os
import socketserver
import ssl
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--upstream", "--cert", "--key", "--port-file"):
        ap.add_argument(flag, required=True)
    args = ap.parse_args()
    upstream = urllib.parse.urlsplit(args.upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.read()
            conn.close()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = relay

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that refuses our certificate ends the handshake:
            # that is what the test wants to see, not an error here.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
