/* An installed-library consumer (scripts/test-install.sh builds it with pkg-config and with
 * find_package): it must compile as strict C99 against the installed headers, link, find the
 * installed library at run time, and get a working server out of it. */
#include <stdio.h>
#include <string.h>

#include <truflux/truflux.h>

static int fail(const char *what, int code)
{
    fprintf(stderr, "app: %s: %s (%s)\n", what, tf_strerror(code), tf_last_error_detail());
    return 1;
}

int main(void)
{
    tf_protocol_t *proto;
    tf_loop_t *loop;
    tf_server_t *server;
    int64_t id;
    int rc, port;

    proto = truflux_protocol_new();
    if (!proto)
        return fail("truflux_protocol_new", tf_last_error());
    id = tf_protocol_add(proto, "chat", TRUFLUX_TYPES_TEXT, 0);
    if (id < 0)
        return fail("tf_protocol_add", (int)id);
    loop = truflux_loop_new();
    if (!loop)
        return fail("truflux_loop_new", tf_last_error());
    server = truflux_server_new(loop, proto, NULL);
    if (!server)
        return fail("truflux_server_new", tf_last_error());
    rc = tf_server_listen(server, "tcp://127.0.0.1:0");
    if (rc != 0)
        return fail("tf_server_listen", rc);
    port = tf_server_port(server);
    printf("truflux %s listening on 127.0.0.1:%d\n", tf_version(), port);

    truflux_server_free(server);
    truflux_protocol_free(proto);
    rc = truflux_loop_free(loop);
    if (rc != 0)
        return fail("truflux_loop_free", rc);

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "app: bad port %d\n", port);
        return 1;
    }
    /* The header and the library were installed together: a mismatch means a stale
     * libtruflux was found first. */
    if (strcmp(tf_version(), TRUFLUX_VERSION_STRING) != 0) {
        fprintf(stderr, "app: library %s, header %s\n", tf_version(), TRUFLUX_VERSION_STRING);
        return 1;
    }
    return 0;
}
