/*
 * test_engine_config_tls.c - the tls-* settings in config.c: their defaults (Valkey's), values
 * checked at set time (tls-protocols, tls-auth-clients), tls-port fixed after start, and
 * config_tls_prepare: no work for a CONFIG SET without tls-* settings or while TLS is off, and a
 * context that does not build refusing the CONFIG SET with the pair it came from.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "kmem.h"

static engine_t *eng;

static void
setup(void) {
    eng = kcalloc(1, sizeof *eng);
    config_defaults(eng);
}

TestSuite(config_tls, .init = setup);

typedef struct got {
    char value[256];
} got_t;

static void
get_cb(void *ctx, const char *name, const char *value) {
    (void)name;
    snprintf(((got_t *)ctx)->value, sizeof((got_t *)ctx)->value, "%s", value);
}

static const char *
get(const char *name) {
    static got_t g;
    g.value[0] = 0;
    config_get(eng, name, strlen(name), get_cb, &g);
    return g.value;
}

static int
set(const char *name, const char *value, bool startup, char *err, size_t errlen) {
    const char *argv[] = {name, value};
    return config_set(eng, 2, argv, NULL, startup, err, errlen);
}

Test(config_tls, defaults_are_valkeys) {
    cr_assert_str_eq(get("tls-port"), "0");
    cr_assert_str_eq(get("tls-auth-clients"), "yes");
    cr_assert_str_eq(get("tls-session-caching"), "yes");
    cr_assert_str_eq(get("tls-session-cache-size"), "20480");
    cr_assert_str_eq(get("tls-session-cache-timeout"), "300");
    cr_assert_str_eq(get("tls-prefer-server-ciphers"), "no");
    cr_assert_str_eq(get("tls-replication"), "no");
    cr_assert_str_eq(get("tls-protocols"), "");
    cr_assert_eq(eng->cfg.tls.auth_clients, TLS_AUTH_YES);
    cr_assert_not(config_tls_enabled(eng));
}

Test(config_tls, values_are_checked_when_set) {
    char err[256];
    cr_assert_eq(set("tls-protocols", "TLSv1.2 TLSv1.3", true, err, sizeof err), 0);
    cr_assert_str_eq(get("tls-protocols"), "TLSv1.2 TLSv1.3");
    cr_assert_eq(set("tls-protocols", "TLSv1.2 QUIC", false, err, sizeof err), -1);
    cr_assert(strstr(err, "QUIC"), "%s", err);
    cr_assert_str_eq(get("tls-protocols"), "TLSv1.2 TLSv1.3", "a refused value changes nothing");
    cr_assert_eq(set("tls-auth-clients", "optional", false, err, sizeof err), 0);
    cr_assert_eq(eng->cfg.tls.auth_clients, TLS_AUTH_OPTIONAL);
    cr_assert_eq(set("tls-auth-clients", "sometimes", false, err, sizeof err), -1);
    cr_assert_eq(set("tls-port", "6380", false, err, sizeof err), -1, "fixed at start, as port");
    cr_assert(strstr(err, "immutable"), "%s", err);
    cr_assert_eq(set("tls-port", "6380", true, err, sizeof err), 0);
    cr_assert(config_tls_enabled(eng));
    const char *bad[] = {"tls-protocols", "TLSv4"};
    cr_assert_eq(config_validate(eng, 2, bad, err, sizeof err), -1);
}

static karg_t
arg(const char *s) {
    return (karg_t){s, strlen(s)};
}

Test(config_tls, prepare_builds_only_for_tls_settings_while_tls_is_on) {
    char err[512] = "";
    tls_ctx_t *ctx = (tls_ctx_t *)1;
    int bad = 7;
    karg_t plain[] = {arg("maxmemory-samples"), arg("7")};
    cr_assert_eq(config_tls_prepare(eng, 2, plain, &ctx, &bad, err, sizeof err), 0);
    cr_assert_null(ctx);
    cr_assert_eq(bad, -1);
    /* TLS off (no tls-port, no tls-replication): a tls-* setting is only stored. */
    karg_t cert[] = {arg("hz"), arg("20"), arg("tls-cert-file"), arg("/nonexistent.crt")};
    cr_assert_eq(config_tls_prepare(eng, 4, cert, &ctx, &bad, err, sizeof err), 0);
    cr_assert_null(ctx);
    /* Turning tls-replication on needs a context, and this one cannot build: refused, with the
     * index of the first tls-* pair, and nothing changed. */
    karg_t on[] = {arg("hz"),
                   arg("20"),
                   arg("tls-replication"),
                   arg("yes"),
                   arg("tls-cert-file"),
                   arg("/nonexistent.crt"),
                   arg("tls-key-file"),
                   arg("/nonexistent.key")};
    cr_assert_eq(config_tls_prepare(eng, 8, on, &ctx, &bad, err, sizeof err), -1);
    cr_assert_null(ctx);
    cr_assert_eq(bad, 2);
    cr_assert(strstr(err, "tls-ca-cert-file"), "%s", err);
    cr_assert_str_eq(get("tls-replication"), "no");
    cr_assert_str_eq(get("tls-cert-file"), "");
    karg_t ca[] = {arg("tls-replication"),  arg("yes"),
                   arg("tls-ca-cert-file"), arg("/x/ca.crt"),
                   arg("tls-cert-file"),    arg("/nonexistent.crt"),
                   arg("tls-key-file"),     arg("/nonexistent.key")};
    cr_assert_eq(config_tls_prepare(eng, 8, ca, &ctx, &bad, err, sizeof err), -1);
    cr_assert(strstr(err, "Failed to load certificate /nonexistent.crt"), "%s", err);
}
