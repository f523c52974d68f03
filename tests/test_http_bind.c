/* tests/test_http_bind.c: tf_server_bind_http (truflux/http.h): a truflux server bound at a
 * path of a libevent evhttp that keeps serving its other paths; binding a path twice is an
 * error; refusals at the bound path; unbinding; freeing in either order the header allows. */
#include "support/tfsupport.h"

#include <event2/buffer.h>
#include <event2/http.h>

static void h_echo(void *user, tf_conn_t *conn, const tf_message_t *m)
{
    (void)user;
    tf_send(conn, m->id, m->type, m->data, m->len);
}

static tf_protocol_t *make_proto(int server)
{
    tf_protocol_t *p = truflux_protocol_new();
    assert_non_null(p);
    assert_true(tf_protocol_add(p, "echo", 0, 0) >= 0);
    if (server)
        assert_int_equal(tf_protocol_on(p, "echo", h_echo, NULL), 0);
    return p;
}

static void on_hello(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "plain http still works");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

typedef struct web {
    tf_loop_t *loop;
    struct evhttp *http;
    int port;
} web_t;

static void web_start(web_t *w)
{
    w->loop = truflux_loop_new();
    assert_non_null(w->loop);
    w->http = evhttp_new((struct event_base *)tf_loop_event_base(w->loop));
    assert_non_null(w->http);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(w->http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&a, &len), 0);
    w->port = ntohs(a.sin_port);
    assert_int_equal(evhttp_set_cb(w->http, "/hello", on_hello, NULL), 0);
}

/* Sends a raw HTTP request and reads until `needle` shows up; 1 when it does. */
static int http_ask(web_t *w, const char *req, const char *needle)
{
    tfs_raw_t r;
    if (tfs_raw_connect(&r, w->port) != 0)
        return 0;
    tfs_raw_send(w->loop, &r, req, strlen(req), TFS_WAIT_MS);
    int64_t deadline = tfs_now_ms() + TFS_WAIT_MS;
    int found = 0;
    while (!found && tfs_now_ms() < deadline) {
        tfs_raw_poll_in(&r);
        tfs_buf_reserve(&r.in, 1);
        r.in.p[r.in.len] = 0;
        found = strstr((const char *)r.in.p, needle) != NULL;
        if (!found && r.ended)
            break;
        tfs_pump_once(w->loop, 10);
    }
    if (!found)
        fprintf(stderr, "  wanted \"%s\", got \"%s\"\n", needle, r.in.p ? (char *)r.in.p : "");
    tfs_raw_close(&r);
    return found;
}

static void test_bind_serves_ws_and_http(void **state)
{
    (void)state;
    web_t w;
    web_start(&w);
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, crec, crec2;
    tfs_rec_init(&srec, "server");
    tf_server_t *s = truflux_server_new(w.loop, sp, NULL);
    tf_server_t *s2 = truflux_server_new(w.loop, sp, NULL);
    tf_callbacks_t cb = tfs_rec_callbacks(&srec);
    assert_int_equal(tf_server_set_callbacks(s, &cb), 0);

    assert_int_equal(tf_server_bind_http(s, w.http, "/tf"), 0);
    assert_int_equal(tf_server_bind_http(s2, w.http, "/tf"), TRUFLUX_EEXIST);
    assert_int_equal(tf_server_bind_http(s2, w.http, "/hello"), TRUFLUX_EEXIST);
    assert_int_equal(tf_server_bind_http(s2, w.http, "no-slash"), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_bind_http(NULL, w.http, "/x"), TRUFLUX_EINVAL);
    assert_int_equal(tf_server_bind_http(s2, NULL, "/x"), TRUFLUX_EINVAL);

    /* Other paths keep serving HTTP; the bound path refuses what is not an upgrade. */
    assert_true(http_ask(&w, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "plain http still works"));
    assert_true(http_ask(&w, "GET /tf HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426"));
    assert_true(http_ask(&w, "POST /tf HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                         "HTTP/1.1 405"));

    /* Two truflux clients through the binding. */
    char url[96];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/tf", w.port);
    tfs_rec_init(&crec, "client");
    tfs_rec_init(&crec2, "client2");
    tf_client_t *c = truflux_client_new(w.loop, cp, NULL);
    tf_client_t *c2 = truflux_client_new(w.loop, cp, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&crec), ccb2 = tfs_rec_callbacks(&crec2);
    assert_int_equal(tf_client_set_callbacks(c, &ccb), 0);
    assert_int_equal(tf_client_set_callbacks(c2, &ccb2), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    assert_int_equal(tf_client_connect(c2, url), 0);
    TFS_WAIT(w.loop, crec.opens == 1 && crec2.opens == 1 && srec.opens == 2, TFS_WAIT_MS);
    assert_int_equal(srec.opens, 2);
    assert_string_equal(tf_conn_transport(srec.conns[0]), "ws");
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "via evhttp", 10), 0);
    TFS_WAIT(w.loop, crec.nmsgs == 1, TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 1);
    assert_string_equal((const char *)crec.msgs[0].data, "via evhttp");
    /* Plain HTTP still answers while WebSockets are open. */
    assert_true(http_ask(&w, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "plain http still works"));

    /* A graceful close from the client side goes through the WebSocket close as well. */
    assert_int_equal(tf_client_close(c2, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(w.loop, srec.closes == 1 && crec2.closes == 1, TFS_WAIT_MS);
    assert_int_equal(srec.closes, 1);
    assert_int_equal(srec.last_close_reason, 0);

    /* Unbinding: new upgrades are not ours any more (evhttp answers 404); open ones stay. */
    assert_int_equal(tf_server_unbind_http(s, w.http, "/tf"), 0);
    assert_int_equal(tf_server_unbind_http(s, w.http, "/tf"), TRUFLUX_ENOTFOUND);
    assert_true(http_ask(&w, "GET /tf HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                         "HTTP/1.1 404"));
    assert_int_equal(tf_client_send_name(c, "echo", TRUFLUX_TYPE_TEXT, "still", 5), 0);
    TFS_WAIT(w.loop, crec.nmsgs == 2, TFS_WAIT_MS);
    assert_int_equal(crec.nmsgs, 2);
    /* The path is free again for another server. */
    assert_int_equal(tf_server_bind_http(s2, w.http, "/tf"), 0);

    truflux_client_free(c);
    truflux_client_free(c2);
    truflux_server_free(s);
    truflux_server_free(s2); /* removes its binding before the evhttp goes */
    tfs_pump_for(w.loop, 50);
    evhttp_free(w.http);
    tfs_rec_free(&srec);
    tfs_rec_free(&crec);
    tfs_rec_free(&crec2);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(w.loop), 0);
}

/* After tf_server_close the bound path answers 503 and open WebSockets get the shutdown
 * close; unbind-then-free and free-server-then-evhttp leak and crash nothing (ASan). */
static void test_bind_close_and_free_orders(void **state)
{
    (void)state;
    web_t w;
    web_start(&w);
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, crec;
    tfs_rec_init(&srec, "server");
    tfs_rec_init(&crec, "client");
    tf_server_t *s = truflux_server_new(w.loop, sp, NULL);
    tf_callbacks_t cb = tfs_rec_callbacks(&srec);
    assert_int_equal(tf_server_set_callbacks(s, &cb), 0);
    assert_int_equal(tf_server_bind_http(s, w.http, NULL), 0); /* "/" */
    char url[96];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", w.port);
    tf_client_t *c = truflux_client_new(w.loop, cp, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&crec);
    assert_int_equal(tf_client_set_callbacks(c, &ccb), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    TFS_WAIT(w.loop, crec.opens == 1 && srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(srec.opens, 1);

    /* Unbinding before evhttp_free, then freeing the server: the order the header asks. */
    tf_server_t *s2 = truflux_server_new(w.loop, sp, NULL);
    struct evhttp *http2 = evhttp_new((struct event_base *)tf_loop_event_base(w.loop));
    assert_int_equal(tf_server_bind_http(s2, http2, "/x"), 0);
    assert_int_equal(tf_server_unbind_http(s2, http2, "/x"), 0);
    evhttp_free(http2);
    truflux_server_free(s2);

    assert_int_equal(tf_server_close(s, TRUFLUX_CLOSE_GRACEFUL), 0);
    TFS_WAIT(w.loop, crec.closes == 1 && srec.server_done == 1, TFS_WAIT_MS);
    assert_int_equal(crec.closes, 1);
    assert_int_equal(crec.last_close_reason, TRUFLUX_ESHUTDOWN);
    assert_true(http_ask(&w, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                        "HTTP/1.1 503"));
    truflux_client_free(c);
    truflux_server_free(s);
    evhttp_free(w.http);
    tfs_rec_free(&srec);
    tfs_rec_free(&crec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(w.loop), 0);
}

/* A WebSocket that the evhttp upgraded, still open when the evhttp is freed: the connection
 * ends (evhttp shuts its socket down), nothing is freed twice. */
static void test_evhttp_freed_under_open_ws(void **state)
{
    (void)state;
    web_t w;
    web_start(&w);
    tf_protocol_t *sp = make_proto(1), *cp = make_proto(0);
    tfs_rec_t srec, crec;
    tfs_rec_init(&srec, "server");
    tfs_rec_init(&crec, "client");
    tf_server_t *s = truflux_server_new(w.loop, sp, NULL);
    tf_callbacks_t cb = tfs_rec_callbacks(&srec);
    assert_int_equal(tf_server_set_callbacks(s, &cb), 0);
    assert_int_equal(tf_server_bind_http(s, w.http, "/tf"), 0);
    char url[96];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/tf", w.port);
    tf_client_t *c = truflux_client_new(w.loop, cp, NULL);
    tf_callbacks_t ccb = tfs_rec_callbacks(&crec);
    assert_int_equal(tf_client_set_callbacks(c, &ccb), 0);
    assert_int_equal(tf_client_connect(c, url), 0);
    TFS_WAIT(w.loop, crec.opens == 1 && srec.opens == 1, TFS_WAIT_MS);
    assert_int_equal(srec.opens, 1);
    assert_int_equal(tf_server_unbind_http(s, w.http, "/tf"), 0);
    evhttp_free(w.http);
    TFS_WAIT(w.loop, crec.closes == 1 && srec.closes == 1, TFS_WAIT_MS);
    assert_int_equal(crec.closes, 1);
    assert_int_equal(srec.closes, 1);
    truflux_client_free(c);
    truflux_server_free(s);
    tfs_rec_free(&srec);
    tfs_rec_free(&crec);
    truflux_protocol_free(sp);
    truflux_protocol_free(cp);
    assert_int_equal(truflux_loop_free(w.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_serves_ws_and_http),
        cmocka_unit_test(test_bind_close_and_free_orders),
        cmocka_unit_test(test_evhttp_freed_under_open_ws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
