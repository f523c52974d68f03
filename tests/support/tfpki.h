/* tests/support/tfpki.h: the test certificates (tests/support/make_pki.py: a CA, a server
 * certificate for 127.0.0.1 / localhost, a client certificate) in a fresh directory below the
 * working directory, for the C and C++ tests of TLS and wss. Header-only, no cmocka.
 *
 *   char dir[512];
 *   int rc = tfs_pki_make(dir, sizeof dir, "wss-pki");  -> dir holds ca.pem, server.pem, ...
 *   tfs_pki_remove(dir);
 *
 * tfs_pki_make returns 0 when made; 1 when they could not be made (no python3 or openssl)
 * outside CI: dir is then "" and the caller's tests skip, saying so; -1 in CI (a machine that
 * should have them) or when no directory can be made: the caller's group setup fails. */
#ifndef TFPKI_H
#define TFPKI_H

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int tfs_pki_make(char *dir, size_t n, const char *prefix)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "./%s-XXXXXX", prefix);
    dir[0] = 0;
    if (!mkdtemp(tmpl))
        return -1;
    char here[1024];
    snprintf(here, sizeof here, "%s", __FILE__); /* tests/support/tfpki.h */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 '%s/make_pki.py' '%s' >/dev/null", dirname(here), tmpl);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        fprintf(stderr, "  make_pki.py failed (status %d): the TLS tests skip\n", rc);
        char rm[600];
        snprintf(rm, sizeof rm, "rm -rf '%s'", tmpl);
        if (system(rm) != 0)
            fprintf(stderr, "  could not remove %s\n", tmpl);
        return getenv("CI") ? -1 : 1;
    }
    snprintf(dir, n, "%s", tmpl);
    return 0;
}

static inline void tfs_pki_remove(const char *dir)
{
    if (!dir[0])
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
}

#endif
