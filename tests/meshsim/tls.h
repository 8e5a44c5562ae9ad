/* Certificates made at start with OpenSSL: a CA, a server certificate for
 * 127.0.0.1/localhost, and a client certificate the kubeconfig carries. */
#ifndef MESHSIM_TLS_H
#define MESHSIM_TLS_H

#include <openssl/ssl.h>

struct tls_material {
    char *ca_pem;          /* certificate-authority-data */
    char *client_cert_pem; /* client-certificate-data */
    char *client_key_pem;  /* client-key-data */
    SSL_CTX *ctx;          /* server context: asks for, but does not demand, a client certificate */
};

/* Returns 0 on success; prints OpenSSL's reason and returns -1 otherwise. */
int tls_setup(struct tls_material *out, int offer_h2);
void tls_free(struct tls_material *m);

/* True when the peer presented a certificate that our CA signed. */
int tls_peer_authenticated(SSL *ssl);

#endif
