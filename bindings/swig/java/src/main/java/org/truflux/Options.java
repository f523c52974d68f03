package org.truflux;

import java.util.ArrayList;
import java.util.List;
import org.truflux.swig.SWIGTYPE_p_tf_options;
import org.truflux.swig.TrufluxC;
import org.truflux.swig.tf_option_t;

/**
 * Settings for a server or client (truflux/options.h), read when it is created. Keys are the
 * TRUFLUX_OPT_* numbers; the common ones have constants and methods here, any other is set
 * with {@link #set(int, long)} and the constants of org.truflux.swig.tf_option_t. Values are
 * checked when the server or client is created (TrufluxException.EINVAL).
 */
public final class Options {
    public static final int MAX_MESSAGE_SIZE = tf_option_t.TRUFLUX_OPT_MAX_MESSAGE_SIZE;
    public static final int HANDSHAKE_TIMEOUT = tf_option_t.TRUFLUX_OPT_HANDSHAKE_TIMEOUT;
    public static final int IDLE_TIMEOUT = tf_option_t.TRUFLUX_OPT_IDLE_TIMEOUT;
    public static final int CLOSE_TIMEOUT = tf_option_t.TRUFLUX_OPT_CLOSE_TIMEOUT;
    public static final int RECONNECT = tf_option_t.TRUFLUX_OPT_RECONNECT;
    public static final int SECURE = tf_option_t.TRUFLUX_OPT_SECURE;
    public static final int SECURE_PATTERNS = tf_option_t.TRUFLUX_OPT_SECURE_PATTERNS;
    public static final int SECURE_CIPHERS = tf_option_t.TRUFLUX_OPT_SECURE_CIPHERS;
    public static final int STATIC_KEY_FILE = tf_option_t.TRUFLUX_OPT_STATIC_KEY_FILE;
    public static final int PEER_KEY_FILE = tf_option_t.TRUFLUX_OPT_PEER_KEY_FILE;
    public static final int AUTHORIZED_KEYS_FILE = tf_option_t.TRUFLUX_OPT_AUTHORIZED_KEYS_FILE;

    /** The secure layer's policies (TRUFLUX_SECURE_*). */
    public enum Secure { OFF, OPTIONAL, REQUIRED }

    private static final class Setting {
        final int key;
        final Object value;
        Setting(int key, Object value) { this.key = key; this.value = value; }
    }

    private final List<Setting> settings = new ArrayList<>();

    /** An integer option. */
    public Options set(int key, long value) { return add(key, value); }

    /** A text option (a path, a list). */
    public Options set(int key, String value) { return add(key, value); }

    /** A binary option (e.g. key material). */
    public Options set(int key, byte[] value) { return add(key, value.clone()); }

    private Options add(int key, Object value) {
        settings.add(new Setting(key, value));
        return this;
    }

    public Options secure(Secure policy) { return set(SECURE, policy.ordinal()); }
    /** Our static private key, from a file `truflux keygen` wrote. */
    public Options staticKeyFile(String path) { return set(STATIC_KEY_FILE, path); }
    /** (Client) the server's public key, pinned; implies Secure.REQUIRED. */
    public Options peerKeyFile(String path) { return set(PEER_KEY_FILE, path); }
    /** (Client) the server's public key as base64 text, pinned. */
    public Options peerKey(String base64) { return set(tf_option_t.TRUFLUX_OPT_PEER_KEY, base64); }
    /** Noise patterns, e.g. "NK" or "XX,IK". */
    public Options patterns(String list) { return set(SECURE_PATTERNS, list); }
    /** "ChaChaPoly", "AESGCM", or both comma-separated. */
    public Options ciphers(String list) { return set(SECURE_CIPHERS, list); }

    /** A native options object holding these settings; the caller frees it. */
    SWIGTYPE_p_tf_options build() {
        Native.load();
        SWIGTYPE_p_tf_options o = TrufluxC.truflux_options_new();
        if (o == null) throw new TrufluxException.ENOMEM("options");
        for (Setting s : settings) {
            int rc;
            if (s.value instanceof Long)
                rc = TrufluxC.tf_options_set_int(o, s.key, (Long) s.value);
            else if (s.value instanceof String)
                rc = TrufluxC.tf_options_set_str(o, s.key, (String) s.value);
            else
                rc = TrufluxC.tf_options_set_bytes(o, s.key, (byte[]) s.value);
            if (rc < 0) {
                TrufluxC.truflux_options_free(o);
                throw TrufluxException.of(rc, "option " + s.key);
            }
        }
        return o;
    }
}
