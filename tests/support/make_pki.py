#!/usr/bin/env python3
"""Makes the TLS test certificates of tests/test_tls.py (its Pki class) in DIR, for the tests
written in other languages (C, shell):

    make_pki.py DIR   ->  DIR/ca.pem, other-ca.pem, server.pem + server.key (CN localhost,
                          SAN localhost and 127.0.0.1, issued by ca.pem), client.pem +
                          client.key

Exit status 0, 1 on a failure, 77 when there is no openssl binary (the caller skips).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import test_tls  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_pki.py DIR")
    if not test_tls.OPENSSL:
        print("make_pki.py: no openssl binary", file=sys.stderr)
        sys.exit(77)
    os.makedirs(sys.argv[1], exist_ok=True)
    test_tls.Pki(sys.argv[1])
