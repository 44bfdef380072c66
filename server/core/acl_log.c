/*
 * acl_log.c - the ACL LOG: refused commands, keys, channels and failed authentications.
 *
 * Entries are kept newest first, at most acllog-max-len of them. As Valkey does, an event like
 * one of the ten newest entries (same reason, context, object and user, within 60 s of that
 * entry's last event) bumps that entry's count and moves it to the front instead of adding one;
 * the entry then shows the client of the last event. entry_id counts entries ever created, so
 * (entry_id, timestamp-created) identifies an entry across ACL LOG RESET and restarts.
 */
#include <string.h>

#include "acl.h"
#include "acl_int.h"
#include "kmem.h"
#include "util.h"

#define LOG_GROUP_SCAN   10    /* newest entries looked at for grouping */
#define LOG_GROUP_MAX_MS 60000 /* an event this close to an entry's last one joins it */

static void
entry_free(acl_log_entry_t *le) {
    kfree(le->object);
    kfree(le->username);
    kfree(le->client_info);
}

static char *
client_info_dup(client_t *c) {
    char line[1024];
    int n = client_info_line(c, line, sizeof line);
    return kstrndup(line, (size_t)n);
}

static bool
same_event(const acl_log_entry_t *le, int reason, int context, const karg_t *obj, const char *user,
           size_t ulen, int64_t now) {
    int64_t d = now - le->updated_ms;
    return le->reason == reason && le->context == context && (d < 0 ? -d : d) <= LOG_GROUP_MAX_MS &&
           le->object_len == obj->n && !memcmp(le->object, obj->p, obj->n) &&
           le->username_len == ulen && !memcmp(le->username, user, ulen);
}

void
acl_log_add(engine_t *e, client_t *c, int reason, int context, const karg_t *username,
            const karg_t *object) {
    acl_state_t *a = e->acl;
    if (reason > ACL_OK && reason <= ACL_DENIED_AUTH)
        a->denied[reason]++;
    const char *user = username ? username->p : acl_user_name(c->user);
    size_t ulen = username ? username->n : strlen(user);
    int64_t now = util_time_ms();
    client_t *rc = e->current ? e->current : c;
    for (uint32_t i = 0; i < a->nlog && i < LOG_GROUP_SCAN; i++) {
        acl_log_entry_t *le = &a->log[i];
        if (!same_event(le, reason, context, object, user, ulen, now))
            continue;
        acl_log_entry_t hit = *le;
        kfree(hit.client_info);
        hit.client_info = client_info_dup(rc);
        hit.updated_ms = now;
        hit.count++;
        memmove(a->log + 1, a->log, sizeof *a->log * i);
        a->log[0] = hit;
        return;
    }
    long long max = e->cfg.acllog_max_len;
    if (a->nlog == a->log_cap) {
        a->log_cap = a->log_cap ? a->log_cap * 2 : 16;
        a->log = krealloc(a->log, sizeof *a->log * a->log_cap);
    }
    memmove(a->log + 1, a->log, sizeof *a->log * a->nlog);
    a->nlog++;
    a->log[0] = (acl_log_entry_t){
        .count = 1,
        .reason = reason,
        .context = context,
        .object = kstrndup(object->p, object->n),
        .object_len = object->n,
        .username = kstrndup(user, ulen),
        .username_len = ulen,
        .client_info = client_info_dup(rc),
        .entry_id = a->log_next_id++,
        .created_ms = now,
        .updated_ms = now,
    };
    while (a->nlog > 0 && (long long)a->nlog > max)
        entry_free(&a->log[--a->nlog]);
}

uint32_t
acl_log_len(engine_t *e) {
    return e->acl->nlog;
}

const acl_log_entry_t *
acl_log_at(engine_t *e, uint32_t i) {
    return i < e->acl->nlog ? &e->acl->log[i] : NULL;
}

void
acl_log_reset(engine_t *e) {
    acl_state_t *a = e->acl;
    for (uint32_t i = 0; i < a->nlog; i++)
        entry_free(&a->log[i]);
    a->nlog = 0;
}

uint64_t
acl_denied_count(engine_t *e, int reason) {
    return reason > ACL_OK && reason <= ACL_DENIED_AUTH ? e->acl->denied[reason] : 0;
}
