#include "tls.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *make_key(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Signs a certificate for key with issuer/issuer_key (self-signed when
 * issuer is NULL). exts is a NULL-terminated list of nid/value pairs. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org, X509 *issuer, EVP_PKEY *issuer_key,
                       const int *nids, const char *const *values)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    X509_set_version(cert, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f; /* positive, as Go's x509 insists */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 60L * 60 * 24 * 30);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    if (org)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer ? issuer : cert;
    for (size_t i = 0; nids[i]; i++) {
        if (add_ext(cert, signer, nids[i], values[i]) != 0)
            goto fail;
    }
    if (!X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()))
        goto fail;
    return cert;
fail:
    X509_free(cert);
    return NULL;
}

static char *bio_string(BIO *bio)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, data, (size_t)len);
        s[len] = '\0';
    }
    BIO_free(bio);
    return s;
}

static char *cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    return bio_string(bio);
}

static char *key_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    return bio_string(bio);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)ssl;
    /* Prefer h2 like a real API server when offered and enabled. */
    static const unsigned char h2[] = "\x02h2";
    static const unsigned char h1[] = "\x08http/1.1";
    int offer_h2 = *(const int *)arg;
    if (offer_h2 && SSL_select_next_proto((unsigned char **)out, outlen, h2, 3, in, inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    if (SSL_select_next_proto((unsigned char **)out, outlen, h1, 9, in, inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK;
}

static int verify_allow_anonymous(int preverify_ok, X509_STORE_CTX *ctx)
{
    (void)ctx;
    /* A missing or foreign certificate is not a handshake failure: the
     * request is answered 401 as an API server would (tokens may follow). */
    (void)preverify_ok;
    return 1;
}

static int offer_h2_flag;

int tls_setup(struct tls_material *out, int offer_h2)
{
    memset(out, 0, sizeof *out);
    offer_h2_flag = offer_h2;
    EVP_PKEY *ca_key = make_key(), *srv_key = make_key(), *cli_key = make_key();
    X509 *ca = NULL, *srv = NULL, *cli = NULL;
    int rc = -1;
    if (!ca_key || !srv_key || !cli_key)
        goto done;
    static const int ca_nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier, 0};
    static const char *const ca_vals[] = {"critical,CA:TRUE", "critical,keyCertSign,cRLSign,digitalSignature", "hash"};
    ca = make_cert(ca_key, "meshsim-ca", NULL, NULL, NULL, ca_nids, ca_vals);
    static const int srv_nids[] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                                   NID_subject_alt_name, NID_authority_key_identifier, 0};
    static const char *const srv_vals[] = {"critical,CA:FALSE", "critical,digitalSignature,keyEncipherment",
                                           "serverAuth", "IP:127.0.0.1,DNS:localhost", "keyid"};
    if (ca)
        srv = make_cert(srv_key, "kube-apiserver", NULL, ca, ca_key, srv_nids, srv_vals);
    static const int cli_nids[] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                                   NID_authority_key_identifier, 0};
    static const char *const cli_vals[] = {"critical,CA:FALSE", "critical,digitalSignature,keyEncipherment",
                                           "clientAuth", "keyid"};
    if (ca)
        cli = make_cert(cli_key, "meshsim-admin", "system:masters", ca, ca_key, cli_nids, cli_vals);
    if (!ca || !srv || !cli)
        goto done;

    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        goto done;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate(ctx, srv) != 1 || SSL_CTX_use_PrivateKey(ctx, srv_key) != 1 ||
        SSL_CTX_add_extra_chain_cert(ctx, X509_dup(ca)) != 1) {
        SSL_CTX_free(ctx);
        goto done;
    }
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_allow_anonymous);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, &offer_h2_flag);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Resumed sessions (curl resumes across its parallel connections) carry
     * the client certificate; OpenSSL refuses them without an id context. */
    static const unsigned char sid_ctx[] = "meshsim";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    out->ctx = ctx;
    out->ca_pem = cert_pem(ca);
    out->client_cert_pem = cert_pem(cli);
    out->client_key_pem = key_pem(cli_key);
    rc = 0;
done:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
    X509_free(ca);
    X509_free(srv);
    X509_free(cli);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(cli_key);
    return rc;
}

void tls_free(struct tls_material *m)
{
    SSL_CTX_free(m->ctx);
    free(m->ca_pem);
    free(m->client_cert_pem);
    free(m->client_key_pem);
    memset(m, 0, sizeof *m);
}

int tls_peer_authenticated(SSL *ssl)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (!peer)
        return 0;
    X509_free(peer);
    return SSL_get_verify_result(ssl) == X509_V_OK;
}
