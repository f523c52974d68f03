# TRUFLUX_JAVA / TRUFLUX_LUA: the SWIG bindings (bindings/swig). On by default where SWIG and
# the language's development files are found, so that the default build (and `make test`)
# builds and tests them. Off by default in sanitizer and fuzzing builds: a JVM or a lua
# interpreter can load an instrumented library only with the sanitizer runtime preloaded.
find_package(SWIG 4.0 QUIET)
find_package(Java 11 QUIET COMPONENTS Development)
find_package(JNI QUIET)
find_package(Lua 5.4 QUIET)
find_program(TRUFLUX_LUA_EXECUTABLE NAMES lua5.4 lua)

set(_tf_java_default OFF)
set(_tf_lua_default OFF)
if(SWIG_FOUND AND NOT TRUFLUX_SANITIZE AND NOT TRUFLUX_FUZZ)
  if(Java_FOUND AND JNI_FOUND)
    set(_tf_java_default ON)
  endif()
  if(LUA_FOUND AND LUA_VERSION_STRING VERSION_GREATER_EQUAL 5.4 AND TRUFLUX_LUA_EXECUTABLE)
    set(_tf_lua_default ON)
  endif()
endif()
option(TRUFLUX_JAVA "Build the Java binding (SWIG, JNI)" ${_tf_java_default})
option(TRUFLUX_LUA "Build the Lua 5.4 binding (SWIG)" ${_tf_lua_default})
unset(_tf_java_default)
unset(_tf_lua_default)
