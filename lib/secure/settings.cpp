// lib/secure: endpoint settings and their setup (see settings.h).
#include "secure/settings.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <truflux/error.h>

#include "crypto/aesgcm_ni.h"
#include "crypto/backend.h"
#include "crypto/names.h"
#include "secure/session.h"

namespace tfsec {

namespace {

constexpr size_t MAX_KEY_FILE = 4096;
constexpr size_t MAX_AUTHORIZED_FILE = 4u << 20;

class factory final : public tfcore::ext_factory {
public:
    explicit factory(std::shared_ptr<settings> s) : s_(std::move(s)) {}
    tfcore::conn_ext *make(tf_conn *c) override { return new secure_conn(s_, c); }
    settings *get() const { return s_.get(); }

private:
    std::shared_ptr<settings> s_;
};

int read_file(const std::string &path, size_t limit, std::string *out, std::string *detail) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *detail = path + ": " + strerror(errno);
        return TRUFLUX_EINVAL;
    }
    out->clear();
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            *detail = path + ": " + strerror(errno);
            close(fd);
            tfc::wipe(buf, sizeof buf);
            return TRUFLUX_EINVAL;
        }
        if (n == 0) break;
        if (out->size() + (size_t)n > limit) {
            *detail = path + ": too large for a key file";
            close(fd);
            tfc::wipe(buf, sizeof buf);
            return TRUFLUX_EINVAL;
        }
        out->append(buf, (size_t)n);
    }
    close(fd);
    tfc::wipe(buf, sizeof buf);
    return 0;
}

void wipe_string(std::string *s) {
    if (!s->empty()) tfc::wipe(&(*s)[0], s->size());
    s->clear();
}

// A key from an option: the bytes (TRUFLUX_OPT_*_KEY) or the file (TRUFLUX_OPT_*_KEY_FILE).
// 1 found, 0 not set, < 0 error.
int key_option(const tfcore::config &cfg, int bytes_key, int file_key, const char *what,
               uint8_t key[tfc::DH_LEN], std::string *detail) {
    const std::string *v = cfg.str(bytes_key);
    if (v) {
        if (tfc::key_from_value(*v, key) != 0) {
            *detail = std::string(what) + ": not a key (32 bytes, or their base64 text)";
            return TRUFLUX_EINVAL;
        }
        return 1;
    }
    const std::string *f = cfg.str(file_key);
    if (!f) return 0;
    int rc = load_key_file(*f, key, detail);
    if (rc) {
        *detail = std::string(what) + " file " + *detail;
        return rc;
    }
    return 1;
}

int load_authorized(const std::string &path, std::vector<key32> *out, std::string *detail) {
    std::string text;
    int rc = read_file(path, MAX_AUTHORIZED_FILE, &text, detail);
    if (rc) return rc;
    size_t pos = 0, line = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string l = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        line++;
        size_t a = l.find_first_not_of(" \t\r");
        if (a == std::string::npos || l[a] == '#') continue;
        size_t b = l.find_first_of(" \t\r", a);
        std::string tok = l.substr(a, b == std::string::npos ? std::string::npos : b - a);
        key32 k;
        if (tfc::key_decode(tok.data(), tok.size(), k.data()) != 0) {
            *detail = path + ": line " + std::to_string(line) + " is not a base64 public key";
            return TRUFLUX_EINVAL;
        }
        out->push_back(k);
    }
    return 0;
}

bool can_do(const settings &s, tfc::pattern p) {
    if (s.is_client) {
        switch (p) {
        case tfc::pattern::NN: return !s.has_pin;  // a pin needs a pattern that checks it
        case tfc::pattern::NK: return s.has_pin;
        case tfc::pattern::XX: return s.has_static;
        case tfc::pattern::IK: return s.has_static && s.has_pin;
        }
        return false;
    }
    if (p == tfc::pattern::NN) return !s.needs_auth();
    if (p == tfc::pattern::NK) return s.has_static && !s.needs_auth();
    return s.has_static;
}

const char *why_not(const settings &s, tfc::pattern p) {
    if (s.is_client) {
        if (p == tfc::pattern::NN) return "NN cannot check a pinned server key";
        if (p == tfc::pattern::NK) return "NK needs the server's key (TRUFLUX_OPT_PEER_KEY)";
        if (p == tfc::pattern::XX) return "XX needs a static key (TRUFLUX_OPT_STATIC_KEY)";
        return "IK needs a static key and the server's key";
    }
    if ((p == tfc::pattern::NN || p == tfc::pattern::NK) && s.needs_auth())
        return "NN and NK cannot authorise clients (authorised keys are set)";
    return "NK, XX and IK need the server's static key (TRUFLUX_OPT_STATIC_KEY)";
}

// Patterns and the hello extension from the settings. 0 or EINVAL with *detail.
int build_offer(settings *s, const std::vector<tfc::pattern> &wanted, std::string *detail) {
    s->patterns.clear();
    for (tfc::pattern p : wanted) {
        if (can_do(*s, p)) {
            s->patterns.push_back(p);
        } else if (s->patterns_given) {
            *detail = std::string("secure pattern ") + tfc::pattern_name(p) + ": " + why_not(*s, p);
            return TRUFLUX_EINVAL;
        }
    }
    if (s->patterns.empty()) {
        *detail = "no secure pattern is possible with these keys";
        return TRUFLUX_EINVAL;
    }
    s->mine = offer();
    s->mine.policy = s->policy == TRUFLUX_SECURE_REQUIRED ? POLICY_REQUIRED : POLICY_OPTIONAL;
    s->mine.patterns = s->patterns;
    s->mine.ciphers = s->ciphers;
    // Only a server says who it is in the clear; a client's key travels encrypted (XX, IK).
    if (!s->is_client && s->has_static) {
        s->mine.has_key = true;
        memcpy(s->mine.key, s->s_pub, tfc::DH_LEN);
    }
    s->offer_bytes.clear();
    offer_encode(s->mine, &s->offer_bytes);
    return 0;
}

const std::vector<tfc::pattern> &default_patterns() {
    static const std::vector<tfc::pattern> all = {tfc::pattern::IK, tfc::pattern::NK,
                                                  tfc::pattern::XX, tfc::pattern::NN};
    return all;
}

void install_hello(tfcore::endpoint *ep, const settings &s) {
    ep->caps |= CAP_SECURE;
    auto &exts = ep->hello_exts;
    exts.erase(std::remove_if(exts.begin(), exts.end(),
                              [](const tfw::hello_ext &e) { return e.type == HELLO_EXT_SECURE; }),
               exts.end());
    exts.push_back(tfw::hello_ext{HELLO_EXT_SECURE, s.offer_bytes});
    tfcore::build_hello(ep);
}

}  // namespace

settings::~settings() {
    tfc::wipe(s_priv, sizeof s_priv);
}

bool settings::authorize(tf_conn *c, const uint8_t key[tfc::DH_LEN]) const {
    if (has_authorized) {
        bool found = false;
        for (const key32 &k : authorized) found |= memcmp(k.data(), key, tfc::DH_LEN) == 0;
        if (!found) return false;
    }
    if (auth_cb && !auth_cb(auth_user, c, key)) return false;
    return true;
}

int load_key_file(const std::string &path, uint8_t key[tfc::DH_LEN], std::string *detail) {
    std::string text;
    int rc = read_file(path, MAX_KEY_FILE, &text, detail);
    if (rc) return rc;
    rc = tfc::key_from_value(text, key);
    wipe_string(&text);
    if (rc) *detail = path + ": not a key (one line of base64, as `truflux keygen` writes)";
    return rc;
}

int setup_endpoint(tfcore::endpoint *ep, std::string *detail) {
    const tfcore::config &cfg = ep->cfg;
    auto s = std::make_shared<settings>();
    s->is_client = ep->is_client;
    int got = key_option(cfg, TRUFLUX_OPT_STATIC_KEY, TRUFLUX_OPT_STATIC_KEY_FILE, "static key",
                         s->s_priv, detail);
    if (got < 0) return got;
    if (got) {
        if (tfc::x25519_public(s->s_priv, s->s_pub) != 0) {
            *detail = "static key: cannot derive its public key";
            return TRUFLUX_EINTERNAL;
        }
        s->has_static = true;
    }
    if (ep->is_client) {
        got = key_option(cfg, TRUFLUX_OPT_PEER_KEY, TRUFLUX_OPT_PEER_KEY_FILE, "pinned server key",
                         s->pin, detail);
        if (got < 0) return got;
        s->has_pin = got == 1;
    } else if (const std::string *f = cfg.str(TRUFLUX_OPT_AUTHORIZED_KEYS_FILE)) {
        int rc = load_authorized(*f, &s->authorized, detail);
        if (rc) return rc;
        s->has_authorized = true;
    }
    int policy = cfg.secure_policy;
    if (policy == TRUFLUX_SECURE_OFF && !s->has_static && !s->has_pin) return 0;
    // A configured key turns the layer on; a pinned key is worthless unless required.
    if (policy == TRUFLUX_SECURE_OFF) policy = TRUFLUX_SECURE_OPTIONAL;
    if (s->has_pin) policy = TRUFLUX_SECURE_REQUIRED;
    s->policy = policy;

    std::vector<tfc::pattern> wanted = default_patterns();
    if (const std::string *t = cfg.str(TRUFLUX_OPT_SECURE_PATTERNS)) {
        if (tfc::parse_patterns(*t, &wanted) != 0) {
            *detail = "secure patterns: " + *t;
            return TRUFLUX_EINVAL;
        }
        s->patterns_given = true;
    }
    // Default priority: AES-GCM first where the CPU has AES-NI and PCLMULQDQ (several times
    // ChaCha20-Poly1305's speed there, in both backends), ChaCha20-Poly1305 first elsewhere
    // (constant-time and fast in portable code).
    if (tfc::aesgcm_ni_available())
        s->ciphers = {tfc::cipher::aesgcm, tfc::cipher::chachapoly};
    else
        s->ciphers = {tfc::cipher::chachapoly, tfc::cipher::aesgcm};
    if (const std::string *t = cfg.str(TRUFLUX_OPT_SECURE_CIPHERS)) {
        if (tfc::parse_ciphers(*t, &s->ciphers) != 0) {
            *detail = "secure ciphers: " + *t;
            return TRUFLUX_EINVAL;
        }
    }
    int rc = build_offer(s.get(), wanted, detail);
    if (rc) return rc;
    s->rekey_messages = cfg.rekey_messages;
    s->rekey_bytes = cfg.rekey_bytes;
    s->rekey_ms = cfg.rekey_ms;
    s->max_message = cfg.max_message;

    ep->ext_factories.push_back(std::make_shared<factory>(s));
    install_hello(ep, *s);
    return 0;
}

settings *endpoint_settings(tfcore::endpoint *ep) {
    for (auto &f : ep->ext_factories)
        if (auto *mine = dynamic_cast<factory *>(f.get())) return mine->get();
    return nullptr;
}

int set_authorizer(tfcore::endpoint *ep, tf_authorize_cb cb, void *user) {
    settings *s = endpoint_settings(ep);
    if (!s || s->is_client) return TRUFLUX_ENOTSUP;
    s->auth_cb = cb;
    s->auth_user = user;
    if (!s->patterns_given) {
        std::string detail;
        if (build_offer(s, default_patterns(), &detail) != 0) return TRUFLUX_EINVAL;
        install_hello(ep, *s);
    }
    return 0;
}

}  // namespace tfsec
