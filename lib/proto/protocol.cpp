// lib/proto: protocol definitions, schema checks and the fingerprint (see protocol.h and
// docs/PROTOCOL.md, "Message ids" and "Fingerprint").
#include "proto/protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <truflux/error.h>

#include "crypto/sha256.h"
#include "wire/validate.h"

namespace tfp {

uint32_t name_id(const char *name, size_t len) {
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < len; i++) {
        h ^= uint8_t(name[i]);
        h *= 0x01000193u;
    }
    return h & 0x7FFFFFFFu;
}

namespace {

// Names travel in the fingerprint text and across languages: 1-255 bytes of UTF-8. A C
// string cannot hold a NUL, so its length settles that rule.
bool valid_name(const char *name, size_t *len_out) {
    if (!name) return false;
    size_t len = strnlen(name, TRUFLUX_MAX_NAME + 1);
    if (len == 0 || len > TRUFLUX_MAX_NAME) return false;
    if (!tfw::utf8_valid(reinterpret_cast<const uint8_t *>(name), len)) return false;
    *len_out = len;
    return true;
}

}  // namespace

}  // namespace tfp

int64_t tf_protocol::add(const char *name, unsigned types, uint32_t max_size) {
    if (frozen.load(std::memory_order_acquire)) return TRUFLUX_EBUSY;
    size_t len;
    if (!tfp::valid_name(name, &len)) return TRUFLUX_EINVAL;
    if (types & ~TRUFLUX_TYPES_ANY) return TRUFLUX_EINVAL;
    std::string key(name, len);
    uint32_t id = tfp::name_id(name, len);
    if (by_name.count(key) || by_id.count(id)) return TRUFLUX_EEXIST;
    if (msgs.size() >= TRUFLUX_MAX_MESSAGES) return TRUFLUX_ELIMIT;

    tfp::message m;
    m.id = id;
    m.name = key;
    m.types = types ? types : TRUFLUX_TYPES_ANY;
    m.max_size = max_size;
    m.states = 0;
    // Every step that can throw comes before the first change, or is undone, so a failed
    // add (ENOMEM at the API) leaves the definition as it was.
    if (msgs.size() == msgs.capacity()) msgs.reserve(msgs.empty() ? 8 : msgs.size() * 2);
    auto it = std::lower_bound(msgs.begin(), msgs.end(), id,
                               [](const tfp::message &a, uint32_t v) { return a.id < v; });
    size_t at = size_t(it - msgs.begin());
    auto name_it = by_name.emplace(std::move(key), at).first;
    try {
        by_id.emplace(id, at);
    } catch (...) {
        by_name.erase(name_it);
        throw;
    }
    msgs.insert(it, std::move(m));  // capacity reserved: moves only
    // Indices after the insertion point moved up by one.
    for (size_t i = at + 1; i < msgs.size(); i++) {
        by_name.find(msgs[i].name)->second = i;
        by_id.find(msgs[i].id)->second = i;
    }
    return int64_t(id);
}

int tf_protocol::add_state(const char *name) {
    if (frozen.load(std::memory_order_acquire)) return TRUFLUX_EBUSY;
    size_t len;
    if (!tfp::valid_name(name, &len)) return TRUFLUX_EINVAL;
    std::string key(name, len);
    if (std::find(states.begin(), states.end(), key) != states.end()) return TRUFLUX_EEXIST;
    if (states.size() >= TRUFLUX_MAX_STATES) return TRUFLUX_ELIMIT;
    states.push_back(std::move(key));
    return int(states.size() - 1);
}

int tf_protocol::allow(const char *message, const char *state) {
    if (frozen.load(std::memory_order_acquire)) return TRUFLUX_EBUSY;
    auto it = message ? by_name.find(message) : by_name.end();
    if (it == by_name.end()) return TRUFLUX_ENOTFOUND;
    int s = state_index(state);
    if (s < 0) return s;
    msgs[it->second].states |= 1u << s;
    return 0;
}

int tf_protocol::on(const char *message, tf_message_cb cb, void *user) {
    if (frozen.load(std::memory_order_acquire)) return TRUFLUX_EBUSY;
    auto it = message ? by_name.find(message) : by_name.end();
    if (it == by_name.end()) return TRUFLUX_ENOTFOUND;
    tfp::message &m = msgs[it->second];
    m.cb = cb;
    m.user = cb ? user : nullptr;
    return 0;
}

const tfp::message *tf_protocol::find(uint32_t id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &msgs[it->second];
}

const tfp::message *tf_protocol::find(const char *name) const {
    if (!name) return nullptr;
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &msgs[it->second];
}

int tf_protocol::state_index(const char *name) const {
    if (!name) return TRUFLUX_ENOTFOUND;
    for (size_t i = 0; i < states.size(); i++)
        if (states[i] == name) return int(i);
    return TRUFLUX_ENOTFOUND;
}

void tf_protocol::freeze() {
    if (frozen.load(std::memory_order_acquire)) return;
    fingerprint(fp);
    frozen.store(true, std::memory_order_release);
}

// The canonical text is normative (docs/PROTOCOL.md): every implementation hashes the same
// bytes for the same definition, whatever order it was built in.
void tf_protocol::fingerprint(uint8_t out[32]) const {
    std::string text;
    text.reserve(msgs.size() * 48 + 64);
    char num[32];
    for (const tfp::message &m : msgs) {  // msgs is kept in ascending id order
        std::snprintf(num, sizeof num, "%08x ", unsigned(m.id));
        text += num;
        text += m.name;
        std::snprintf(num, sizeof num, " %u %u ", m.types, unsigned(m.max_size));
        text += num;
        if (m.states == 0) {
            text += '*';
        } else {
            bool first = true;
            for (size_t i = 0; i < states.size(); i++) {
                if (!(m.states & (1u << i))) continue;
                if (!first) text += ',';
                text += states[i];
                first = false;
            }
        }
        text += '\n';
    }
    if (!states.empty()) {
        text += "#states ";
        for (size_t i = 0; i < states.size(); i++) {
            if (i) text += ',';
            text += states[i];
        }
        text += '\n';
    }
    tfc::sha256(text.data(), text.size(), out);
}

std::vector<uint32_t> tf_protocol::ids() const {
    std::vector<uint32_t> v;
    v.reserve(msgs.size());
    for (const tfp::message &m : msgs) v.push_back(m.id);
    return v;
}

int tf_protocol::check(const tfp::message &m, int type, const void *data, size_t len,
                       uint32_t conn_max) {
    if (type < TRUFLUX_TYPE_EMPTY || type > TRUFLUX_TYPE_MSGPACK) return TRUFLUX_EINVAL;
    if (!data && len) return TRUFLUX_EINVAL;
    if (!(m.types & (1u << type))) return TRUFLUX_ESCHEMA;
    if (type == TRUFLUX_TYPE_EMPTY) return len == 0 ? 0 : TRUFLUX_ESCHEMA;
    if (m.max_size && len > m.max_size) return TRUFLUX_EMSGSIZE;
    if (conn_max && len > conn_max) return TRUFLUX_EMSGSIZE;
    const uint8_t *p = static_cast<const uint8_t *>(data);
    if (type == TRUFLUX_TYPE_TEXT && !tfw::utf8_valid(p, len)) return TRUFLUX_EUTF8;
    if (type == TRUFLUX_TYPE_MSGPACK && !tfw::msgpack_valid(p, len)) return TRUFLUX_ESCHEMA;
    return 0;
}

void tf_protocol::release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}
