package org.truflux;

/** Loads the JNI library (libtruflux_jni.so) once. */
final class Native {
    private static boolean loaded;

    private Native() {}

    /**
     * The system property truflux.jni names the library's path; without it the library is
     * looked up as truflux_jni on java.library.path.
     */
    static synchronized void load() {
        if (loaded) return;
        String path = System.getProperty("truflux.jni");
        if (path != null && !path.isEmpty()) System.load(path);
        else System.loadLibrary("truflux_jni");
        loaded = true;
    }
}
