package org.truflux;

/** What a connection's secure handshake established (truflux/security.h). */
public final class SecureInfo {
    private static final String[] PATTERNS = {"NN", "NK", "XX", "IK"};
    private static final String[] CIPHERS = {"ChaChaPoly", "AESGCM"};
    private final boolean established;
    private final String pattern;
    private final String cipher;
    private final String peerKey;

    SecureInfo(org.truflux.swig.tf_secure_info_t info) {
        established = info.getEstablished() != 0;
        int p = info.getPattern(), c = info.getCipher();
        pattern = p >= 0 && p < PATTERNS.length ? PATTERNS[p] : null;
        cipher = c >= 0 && c < CIPHERS.length ? CIPHERS[c] : null;
        String key = org.truflux.swig.TrufluxC.tfs_secure_peer_key(info);
        peerKey = key.isEmpty() ? null : key;
    }

    public boolean established() { return established; }
    /** The Noise pattern: "NN", "NK", "XX" or "IK"; null before the handshake. */
    public String pattern() { return pattern; }
    /** "ChaChaPoly" or "AESGCM"; null before the handshake. */
    public String cipher() { return cipher; }
    /** The static key the peer proved, base64, or null. */
    public String peerKey() { return peerKey; }

    @Override
    public String toString() { return "Noise " + pattern + ", " + cipher; }
}
