/* truflux/version.h: library and wire-protocol versions, and the export macro. */
#ifndef TRUFLUX_VERSION_H
#define TRUFLUX_VERSION_H

#define TRUFLUX_VERSION_MAJOR 0
#define TRUFLUX_VERSION_MINOR 1
#define TRUFLUX_VERSION_PATCH 0
#define TRUFLUX_VERSION_STRING "0.1.0"

/* The wire protocol this build speaks (docs/PROTOCOL.md). */
#define TRUFLUX_WIRE_VERSION_MAJOR 1
#define TRUFLUX_WIRE_VERSION_MINOR 0

#if defined(_WIN32)
#  define TRUFLUX_API
#elif defined(TRUFLUX_BUILDING)
#  define TRUFLUX_API __attribute__((visibility("default")))
#else
#  define TRUFLUX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* The library's version string, e.g. "0.1.0" (may differ from the header's at run time). */
TRUFLUX_API const char *tf_version(void);
#ifdef __cplusplus
}
#endif
#endif
