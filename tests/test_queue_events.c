/* tests/test_queue_events.c: the event queue's secure and file events (truflux/queue.h kinds
 * 7-8 and 16-24) over real loopback sockets, with the loop run in the test's thread and
 * every decision taken from popped events only, as a host language would: SECURE with the
 * pinned server key, SECURE_FAIL for a wrong pin, a file offered, accepted later and
 * verified, a decline, a cancel, a peer's pause and resume, and progress coalescing. */
#include "support/tfsupport.h"
#include "support/tffiles.h"

#define STAG ((void *)0x5e)
#define CTAG ((void *)0xc1)

typedef struct world {
    tf_loop_t *loop;
    tf_protocol_t *proto;
    tf_server_t *server;
    tf_client_t *client;
    tf_queue_t *sq, *cq;
    tf_conn_t *sconn; /* retained, from the server's OPEN */
    char url[64];
} world_t;

static uint64_t q_events(const tf_queue_t *q)
{
    tf_queue_stats_t s;
    s.size = sizeof s;
    assert_int_equal(tf_queue_stats(q, &s), 0);
    return s.events;
}

/* Pops the next event of q, skipping kinds in `skip` (a 0-terminated list), waiting at most
 * TFS_WAIT_MS. NULL on timeout. */
static tf_event_t *next_event(world_t *w, tf_queue_t *q, const int *skip)
{
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while (tfs_now_ms() < deadline) {
        tf_event_t *ev = tf_queue_pop(q);
        if (!ev) {
            tfs_pump_once(w->loop, 10);
            continue;
        }
        int skipped = 0;
        for (const int *k = skip; k && *k; k++)
            skipped |= tf_event_kind(ev) == *k;
        if (!skipped)
            return ev;
        truflux_event_free(ev);
    }
    return NULL;
}

static tf_event_t *expect(world_t *w, tf_queue_t *q, int kind, const int *skip)
{
    tf_event_t *ev = next_event(w, q, skip);
    assert_non_null(ev);
    if (tf_event_kind(ev) != kind)
        fprintf(stderr, "  event kind %d (code %s: %s), want %d\n", tf_event_kind(ev),
                tf_errname(tf_event_code(ev)), tf_event_detail(ev), kind);
    assert_int_equal(tf_event_kind(ev), kind);
    return ev;
}

static const int SKIP_PROGRESS[] = { TRUFLUX_EVENT_FILE_PROGRESS, 0 };

/* Server and client on one loop, each into its own queue, files enabled through the
 * queue's file callbacks on both. Waits for both OPENs (skipping SECURE events, which the
 * secure tests look at themselves) unless `no_wait`. */
static void world_start(world_t *w, tf_options_t *so, tf_options_t *co, int no_wait)
{
    memset(w, 0, sizeof *w);
    w->loop = truflux_loop_new();
    assert_non_null(w->loop);
    w->proto = truflux_protocol_new();
    assert_true(tf_protocol_add(w->proto, "echo", 0, 0) >= 0);
    w->sq = truflux_queue_new(0);
    w->cq = truflux_queue_new(0);
    assert_non_null(w->sq);
    assert_non_null(w->cq);

    w->server = truflux_server_new(w->loop, w->proto, so);
    assert_non_null(w->server);
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(w->sq, STAG, &cb), 0);
    assert_non_null(cb.on_secure);
    assert_non_null(cb.on_secure_fail);
    assert_int_equal(tf_server_set_callbacks(w->server, &cb), 0);
    tf_file_callbacks_t fcb = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_queue_file_callbacks(w->sq, STAG, &fcb), 0);
    assert_int_equal(fcb.size, sizeof fcb);
    assert_non_null(fcb.on_offer);
    assert_non_null(fcb.on_end);
    assert_int_equal(tf_server_set_file_callbacks(w->server, &fcb), 0);
    assert_int_equal(tf_server_listen(w->server, "tcp://127.0.0.1:0"), 0);
    tfs_url(w->url, sizeof w->url, tf_server_port(w->server));

    w->client = truflux_client_new(w->loop, w->proto, co);
    assert_non_null(w->client);
    tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(w->cq, CTAG, &ccb), 0);
    assert_int_equal(tf_client_set_callbacks(w->client, &ccb), 0);
    tf_file_callbacks_t cfcb = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_queue_file_callbacks(w->cq, CTAG, &cfcb), 0);
    assert_int_equal(tf_client_set_file_callbacks(w->client, &cfcb), 0);
    assert_int_equal(tf_client_connect(w->client, w->url), 0);
    if (no_wait)
        return;

    static const int skip[] = { TRUFLUX_EVENT_SECURE, 0 };
    tf_event_t *ev = expect(w, w->cq, TRUFLUX_EVENT_OPEN, skip);
    truflux_event_free(ev);
    ev = expect(w, w->sq, TRUFLUX_EVENT_OPEN, skip);
    assert_ptr_equal(tf_event_tag(ev), STAG);
    w->sconn = tf_conn_retain(tf_event_conn(ev));
    truflux_event_free(ev);
}

static void world_free(world_t *w)
{
    if (w->sconn)
        tf_conn_release(w->sconn);
    truflux_client_free(w->client);
    truflux_server_free(w->server);
    truflux_queue_free(w->cq);
    truflux_queue_free(w->sq);
    truflux_protocol_free(w->proto);
    assert_int_equal(truflux_loop_free(w->loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Secure events                                                                         */

static void set_key(tf_options_t *o, int key, const uint8_t k[32])
{
    assert_int_equal(tf_options_set_bytes(o, key, k, 32), 0);
}

static void test_secure_event_with_pinned_key(void **state)
{
    (void)state;
    uint8_t spriv[32], spub[32];
    assert_int_equal(tf_keypair_generate(spriv, spub), 0);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_REQUIRED);
    set_key(so, TRUFLUX_OPT_STATIC_KEY, spriv);
    set_key(co, TRUFLUX_OPT_PEER_KEY, spub);
    world_t w;
    world_start(&w, so, co, 1);

    /* The client's open waits for the handshake: SECURE comes first, then OPEN. */
    tf_event_t *ev = expect(&w, w.cq, TRUFLUX_EVENT_SECURE, NULL);
    assert_ptr_equal(tf_event_tag(ev), CTAG);
    assert_ptr_equal(tf_event_conn(ev), tf_client_conn(w.client));
    assert_true(tf_event_code(ev) & TRUFLUX_DIR_SEND);
    tf_secure_info_t info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    assert_int_equal(tf_event_secure_info(ev, &info), 0);
    assert_int_equal(info.size, sizeof info);
    assert_int_equal(info.established, 1);
    assert_int_equal(info.pattern, TRUFLUX_NOISE_NK);
    assert_int_equal(info.has_peer_key, 1);
    assert_memory_equal(info.peer_key, spub, 32);
    uint8_t client_hash[32];
    memcpy(client_hash, info.handshake_hash, 32);
    /* The accessors of other kinds refuse it. */
    assert_int_equal(tf_event_progress(ev, NULL, NULL), TRUFLUX_EINVAL);
    assert_null(tf_event_file(ev));
    truflux_event_free(ev);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_OPEN, NULL);
    truflux_event_free(ev);

    /* The server's side: the same handshake hash; the NK client proved no key. */
    ev = expect(&w, w.sq, TRUFLUX_EVENT_SECURE, NULL);
    assert_ptr_equal(tf_event_tag(ev), STAG);
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    assert_int_equal(tf_event_secure_info(ev, &info), 0);
    assert_int_equal(info.has_peer_key, 0);
    assert_memory_equal(info.handshake_hash, client_hash, 32);
    assert_int_equal(tf_conn_secure(tf_event_conn(ev), TRUFLUX_DIR_SEND), 1);
    truflux_event_free(ev);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_OPEN, NULL);
    truflux_event_free(ev);

    /* A message's event is unaffected. */
    assert_int_equal(tf_send_name(tf_client_conn(w.client), "echo", TRUFLUX_TYPE_TEXT, "hi", 2), 0);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_MESSAGE, NULL);
    tf_message_t m;
    assert_int_equal(tf_event_message(ev, &m), 0);
    assert_int_equal(m.len, 2);
    truflux_event_free(ev);

    world_free(&w);
    truflux_options_free(so);
    truflux_options_free(co);
}

static void test_secure_fail_event_wrong_pin(void **state)
{
    (void)state;
    uint8_t spriv[32], spub[32], opriv[32], other[32];
    assert_int_equal(tf_keypair_generate(spriv, spub), 0);
    assert_int_equal(tf_keypair_generate(opriv, other), 0);
    tf_options_t *so = tfs_options(), *co = tfs_options();
    tfs_opt(so, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    tfs_opt(co, TRUFLUX_OPT_SECURE, TRUFLUX_SECURE_OPTIONAL);
    set_key(so, TRUFLUX_OPT_STATIC_KEY, spriv);
    set_key(co, TRUFLUX_OPT_PEER_KEY, other);
    world_t w;
    world_start(&w, so, co, 1);

    /* The client's side: SECURE_FAIL with the code and a detail, and never an OPEN. */
    tf_event_t *ev = expect(&w, w.cq, TRUFLUX_EVENT_SECURE_FAIL, NULL);
    assert_ptr_equal(tf_event_tag(ev), CTAG);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EPIN);
    assert_true(strlen(tf_event_detail(ev)) > 0);
    tf_secure_info_t info;
    info.size = sizeof info;
    assert_int_equal(tf_event_secure_info(ev, &info), TRUFLUX_EINVAL);
    truflux_event_free(ev);
    ev = next_event(&w, w.cq, NULL);
    assert_non_null(ev);
    assert_int_not_equal(tf_event_kind(ev), TRUFLUX_EVENT_OPEN);
    assert_int_not_equal(tf_event_kind(ev), TRUFLUX_EVENT_SECURE);
    truflux_event_free(ev);

    world_free(&w);
    truflux_options_free(so);
    truflux_options_free(co);
}

/* ------------------------------------------------------------------------------------ */
/* File events                                                                           */

static void test_file_through_events(void **state)
{
    (void)state;
    char dir[64], src[128], dst[128];
    tff_tempdir(dir);
    snprintf(src, sizeof src, "%s/src.bin", dir);
    snprintf(dst, sizeof dst, "%s/got.bin", dir);
    const uint64_t size = 600 * 1000; /* several chunks */
    tff_make_file(src, size, 7);
    world_t w;
    world_start(&w, NULL, NULL, 0);

    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_path(tf_client_conn(w.client), src, "data.bin", &out), 0);
    assert_non_null(out);

    /* The server pops the offer, reads it, and decides after the callback has returned. */
    tf_event_t *ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_OFFER, NULL);
    tf_file_t *in = tf_event_file(ev);
    assert_non_null(in);
    assert_ptr_equal(tf_event_conn(ev), w.sconn);
    assert_string_equal(tf_file_name(in), "data.bin");
    assert_int_equal(tf_file_size(in), (int64_t)size);
    assert_false(tf_file_is_stream(in));
    assert_true(tf_file_is_incoming(in));
    assert_int_equal(tf_event_progress(ev, NULL, NULL), TRUFLUX_EINVAL);
    assert_int_equal(tf_file_accept_path(in, dst), 0);
    in = tf_file_retain(in);
    truflux_event_free(ev);

    /* The sender hears the accept, then progress (coalesced) and a successful end. */
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_ACCEPT, SKIP_PROGRESS);
    assert_ptr_equal(tf_event_file(ev), out);
    truflux_event_free(ev);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_END, SKIP_PROGRESS);
    assert_int_equal(tf_event_code(ev), 0);
    assert_ptr_equal(tf_event_file(ev), out);
    truflux_event_free(ev);

    /* The receiver: progress events (their last one reaching the size), then END 0. */
    uint64_t last = 0;
    int progress = 0;
    for (;;) {
        ev = next_event(&w, w.sq, NULL);
        assert_non_null(ev);
        if (tf_event_kind(ev) != TRUFLUX_EVENT_FILE_PROGRESS)
            break;
        uint64_t done;
        int64_t total;
        assert_int_equal(tf_event_progress(ev, &done, &total), 0);
        assert_int_equal(total, (int64_t)size);
        assert_true(done >= last);
        last = done;
        progress++;
        truflux_event_free(ev);
    }
    assert_int_equal(tf_event_kind(ev), TRUFLUX_EVENT_FILE_END);
    assert_int_equal(tf_event_code(ev), 0);
    assert_ptr_equal(tf_event_file(ev), in);
    truflux_event_free(ev);
    assert_true(progress >= 1);
    assert_int_equal(last, size);
    assert_true(tff_check_file(dst, size, 7));

    tf_file_release(in);
    tf_file_release(out);
    world_free(&w);
    tff_rmtree(dir);
}

/* Progress is coalesced: however many chunks move while nobody pops, a transfer has one
 * PROGRESS event waiting, holding the latest position. */
static void test_progress_coalesced(void **state)
{
    (void)state;
    char dir[64], src[128];
    tff_tempdir(dir);
    snprintf(src, sizeof src, "%s/src.bin", dir);
    const uint64_t size = 2 * 1000 * 1000;
    tff_make_file(src, size, 3);
    tf_options_t *co = tfs_options();
    tfs_opt(co, TRUFLUX_OPT_FILE_CHUNK, 16384); /* over a hundred chunks */
    world_t w;
    world_start(&w, NULL, co, 0);

    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_path(tf_client_conn(w.client), src, "c.bin", &out), 0);
    tf_event_t *ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_OFFER, NULL);
    assert_int_equal(tf_file_accept_dir(tf_event_file(ev), dir), 0);
    truflux_event_free(ev);

    /* Run the loop without popping the client's queue until the sender's transfer is over
     * (every chunk sent and the receiver's verdict in), then look at what waits. */
    tf_file_stats_t fs = { .size = sizeof fs };
    TFS_WAIT(w.loop, tf_file_stats(out, &fs) == 0 && fs.position >= size, TFS_WAIT_MS);
    assert_int_equal(fs.position, size);
    int ended = 0, progress = 0, accepts = 0;
    uint64_t done = 0;
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    while (!ended && tfs_now_ms() < deadline) {
        tfs_pump_once(w.loop, 10);
        if (q_events(w.cq) < 3) /* ACCEPT, PROGRESS, END */
            continue;
        while ((ev = tf_queue_pop(w.cq)) != NULL) {
            int k = tf_event_kind(ev);
            if (k == TRUFLUX_EVENT_FILE_PROGRESS) {
                progress++;
                assert_int_equal(tf_event_progress(ev, &done, NULL), 0);
            }
            accepts += k == TRUFLUX_EVENT_FILE_ACCEPT;
            if (k == TRUFLUX_EVENT_FILE_END) {
                assert_int_equal(tf_event_code(ev), 0);
                ended = 1;
            }
            truflux_event_free(ev);
        }
    }
    assert_true(ended);
    assert_int_equal(accepts, 1);
    assert_int_equal(progress, 1);
    assert_int_equal(done, size);

    tf_file_release(out);
    world_free(&w);
    truflux_options_free(co);
    tff_rmtree(dir);
}

static void test_file_decline(void **state)
{
    (void)state;
    char dir[64], src[128];
    tff_tempdir(dir);
    snprintf(src, sizeof src, "%s/src.bin", dir);
    tff_make_file(src, 1000, 1);
    world_t w;
    world_start(&w, NULL, NULL, 0);

    /* This time the server offers, and the client declines from its queue. */
    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_path(w.sconn, src, NULL, &out), 0);
    tf_event_t *ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_OFFER, NULL);
    assert_ptr_equal(tf_event_tag(ev), CTAG);
    assert_string_equal(tf_file_name(tf_event_file(ev)), "src.bin");
    tf_file_t *in = tf_file_retain(tf_event_file(ev));
    truflux_event_free(ev); /* decided after the event is gone */
    assert_int_equal(tf_file_decline(in), 0);
    assert_true(tf_file_decline(in) < 0); /* no longer pending */

    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_END, NULL);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EDECLINED);
    assert_ptr_equal(tf_event_file(ev), in);
    truflux_event_free(ev);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_DECLINE, NULL);
    assert_ptr_equal(tf_event_file(ev), out);
    truflux_event_free(ev);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_END, NULL);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EDECLINED);
    truflux_event_free(ev);
    assert_int_equal(tff_count_entries(dir, NULL), 1);

    tf_file_release(in);
    tf_file_release(out);
    world_free(&w);
    tff_rmtree(dir);
}

/* The receiver pauses an accepted transfer (the sender gets FILE_PAUSE), resumes it
 * (FILE_RESUME), then the sender cancels it (the receiver gets FILE_CANCEL; both END with
 * TRUFLUX_ECANCELED) and no partial file stays behind. */
static void test_file_pause_resume_cancel(void **state)
{
    (void)state;
    char dir[64], src[128], dst[128];
    tff_tempdir(dir);
    snprintf(src, sizeof src, "%s/src.bin", dir);
    snprintf(dst, sizeof dst, "%s/dst", dir);
    assert_int_equal(mkdir(dst, 0700), 0);
    tff_make_file(src, 4 * 1000 * 1000, 5);
    world_t w;
    world_start(&w, NULL, NULL, 0);

    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_path(tf_client_conn(w.client), src, "big.bin", &out), 0);
    tf_event_t *ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_OFFER, NULL);
    tf_file_t *in = tf_file_retain(tf_event_file(ev));
    truflux_event_free(ev);
    /* Paused before it is accepted: no content may move until resumed. */
    assert_int_equal(tf_file_pause(in), 0);
    assert_int_equal(tf_file_accept_dir(in, dst), 0);

    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_PAUSE, SKIP_PROGRESS);
    assert_ptr_equal(tf_event_file(ev), out);
    assert_true(tf_file_is_paused(out));
    truflux_event_free(ev);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_ACCEPT, SKIP_PROGRESS);
    truflux_event_free(ev);
    tfs_pump_for(w.loop, 50);
    tf_file_stats_t fs = { .size = sizeof fs };
    assert_int_equal(tf_file_stats(in, &fs), 0);
    assert_int_equal(fs.position, 0);

    assert_int_equal(tf_file_resume(in), 0);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_RESUME, SKIP_PROGRESS);
    truflux_event_free(ev);
    /* Content moves again: the receiver's progress shows it. */
    ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_PROGRESS, NULL);
    uint64_t done = 0;
    assert_int_equal(tf_event_progress(ev, &done, NULL), 0);
    assert_true(done > 0);
    truflux_event_free(ev);

    assert_int_equal(tf_file_cancel(out), 0);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_END, SKIP_PROGRESS);
    assert_int_equal(tf_event_code(ev), TRUFLUX_ECANCELED);
    truflux_event_free(ev);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_CANCEL, SKIP_PROGRESS);
    assert_ptr_equal(tf_event_file(ev), in);
    truflux_event_free(ev);
    ev = expect(&w, w.sq, TRUFLUX_EVENT_FILE_END, SKIP_PROGRESS);
    assert_int_equal(tf_event_code(ev), TRUFLUX_ECANCELED);
    truflux_event_free(ev);
    assert_int_equal(tff_count_entries(dst, NULL), 0);

    tf_file_release(in);
    tf_file_release(out);
    world_free(&w);
    tff_rmtree(dir);
}

/* An offer arriving while the queue is over its cap is declined on the spot, and none of
 * that transfer's events reach the program; the sender sees the decline. */
static void test_offer_over_cap_declined(void **state)
{
    (void)state;
    char dir[64], src[128];
    tff_tempdir(dir);
    snprintf(src, sizeof src, "%s/src.bin", dir);
    tff_make_file(src, 100, 2);
    world_t w;
    world_start(&w, NULL, NULL, 0);
    /* A tiny queue for the server's file events, filled with one waiting event. */
    tf_queue_t *tiny = truflux_queue_new(1);
    assert_non_null(tiny);
    assert_int_equal(tf_queue_wake(tiny), 0);
    tf_file_callbacks_t fcb = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_queue_file_callbacks(tiny, STAG, &fcb), 0);
    /* A second server on the same loop, reporting its files into the tiny queue. */
    tf_server_t *s2 = truflux_server_new(w.loop, w.proto, NULL);
    assert_non_null(s2);
    tf_callbacks_t cb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(w.sq, STAG, &cb), 0);
    assert_int_equal(tf_server_set_callbacks(s2, &cb), 0);
    assert_int_equal(tf_server_set_file_callbacks(s2, &fcb), 0);
    assert_int_equal(tf_server_listen(s2, "tcp://127.0.0.1:0"), 0);
    char url[64];
    tfs_url(url, sizeof url, tf_server_port(s2));
    tf_client_t *c2 = truflux_client_new(w.loop, w.proto, NULL);
    tf_callbacks_t ccb = TRUFLUX_CALLBACKS_INIT;
    assert_int_equal(tf_queue_callbacks(w.cq, CTAG, &ccb), 0);
    assert_int_equal(tf_client_set_callbacks(c2, &ccb), 0);
    tf_file_callbacks_t cfcb = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_queue_file_callbacks(w.cq, CTAG, &cfcb), 0);
    assert_int_equal(tf_client_set_file_callbacks(c2, &cfcb), 0);
    assert_int_equal(tf_client_connect(c2, url), 0);
    tf_event_t *ev = expect(&w, w.cq, TRUFLUX_EVENT_OPEN, NULL);
    truflux_event_free(ev);

    tf_file_t *out = NULL;
    assert_int_equal(tf_file_send_path(tf_client_conn(c2), src, NULL, &out), 0);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_DECLINE, NULL);
    truflux_event_free(ev);
    ev = expect(&w, w.cq, TRUFLUX_EVENT_FILE_END, NULL);
    assert_int_equal(tf_event_code(ev), TRUFLUX_EDECLINED);
    truflux_event_free(ev);
    tf_queue_stats_t st = { .size = sizeof st };
    assert_int_equal(tf_queue_stats(tiny, &st), 0);
    assert_int_equal(st.events, 1); /* the WAKE alone */
    assert_int_equal(st.refused, 1);

    tf_file_release(out);
    truflux_client_free(c2);
    truflux_server_free(s2);
    truflux_queue_free(tiny);
    world_free(&w);
    tff_rmtree(dir);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tf_file_callbacks_t fcb = TRUFLUX_FILE_CALLBACKS_INIT;
    assert_int_equal(tf_queue_file_callbacks(NULL, NULL, &fcb), TRUFLUX_EINVAL);
    tf_queue_t *q = truflux_queue_new(0);
    assert_int_equal(tf_queue_file_callbacks(q, NULL, NULL), TRUFLUX_EINVAL);
    assert_null(tf_event_file(NULL));
    assert_int_equal(tf_event_progress(NULL, NULL, NULL), TRUFLUX_EINVAL);
    tf_secure_info_t info = { .size = sizeof info };
    assert_int_equal(tf_event_secure_info(NULL, &info), TRUFLUX_EINVAL);
    /* A struct of an older, shorter layout gets only the members it has room for. */
    tf_file_callbacks_t old;
    memset(&old, 0xab, sizeof old);
    old.size = offsetof(tf_file_callbacks_t, on_accept);
    assert_int_equal(tf_queue_file_callbacks(q, NULL, &old), 0);
    assert_int_equal(old.size, offsetof(tf_file_callbacks_t, on_accept));
    assert_non_null(old.on_offer);
    unsigned char pattern[sizeof(void *)];
    memset(pattern, 0xab, sizeof pattern);
    assert_memory_equal(&old.on_accept, pattern, sizeof pattern);
    assert_int_equal(tf_queue_wake(q), 0);
    tf_event_t *ev = tf_queue_pop(q);
    assert_null(tf_event_file(ev));
    assert_int_equal(tf_event_secure_info(ev, &info), TRUFLUX_EINVAL);
    truflux_event_free(ev);
    truflux_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_secure_event_with_pinned_key),
        cmocka_unit_test(test_secure_fail_event_wrong_pin),
        cmocka_unit_test(test_file_through_events),
        cmocka_unit_test(test_progress_coalesced),
        cmocka_unit_test(test_file_decline),
        cmocka_unit_test(test_file_pause_resume_cancel),
        cmocka_unit_test(test_offer_over_cap_declined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
