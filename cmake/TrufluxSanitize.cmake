# TRUFLUX_SANITIZE: a list of sanitizers ("address,undefined", "thread", ...) applied to every
# target of the build (library, tests, tools, examples), compile and link alike, so that an
# instrumented library is never linked into an uninstrumented program or the reverse.
set(TRUFLUX_SANITIZE "" CACHE STRING
  "Sanitizers for every target, comma- or semicolon-separated (e.g. address,undefined or thread)")

set(TRUFLUX_SANITIZE_FLAGS "")
if(TRUFLUX_SANITIZE)
  string(REPLACE "," ";" _tf_san "${TRUFLUX_SANITIZE}")
  list(TRANSFORM _tf_san STRIP)
  list(REMOVE_ITEM _tf_san "")
  list(REMOVE_DUPLICATES _tf_san)
  if("thread" IN_LIST _tf_san AND ("address" IN_LIST _tf_san OR "leak" IN_LIST _tf_san))
    message(FATAL_ERROR "TRUFLUX_SANITIZE: thread cannot be combined with address or leak")
  endif()
  list(JOIN _tf_san "," _tf_san_csv)
  # No recovery: a UBSan finding must fail the test that triggered it, not just print.
  set(TRUFLUX_SANITIZE_FLAGS -fsanitize=${_tf_san_csv} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
  add_compile_options(${TRUFLUX_SANITIZE_FLAGS})
  add_link_options(${TRUFLUX_SANITIZE_FLAGS})
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    # A C program linked by clang gets neither the C++ part of the sanitizer runtime
    # (UBSan's vptr checks) nor libstdc++ that it needs; the C++ in libtruflux needs both.
    add_link_options("$<$<LINK_LANGUAGE:C>:-fsanitize-link-c++-runtime;-lstdc++>")
  endif()
  set(TRUFLUX_SANITIZERS ${_tf_san})
  message(STATUS "truflux: sanitizers ${_tf_san_csv}")
  unset(_tf_san)
  unset(_tf_san_csv)
endif()

# The runtime a non-instrumented host process (python3 loading libtruflux.so with ctypes)
# must preload: ASan and TSan refuse to start after the program did.
set(TRUFLUX_SANITIZER_PRELOAD "")
foreach(_tf_kind address thread)
  if(NOT _tf_kind IN_LIST TRUFLUX_SANITIZERS)
    continue()
  endif()
  string(REPLACE "address" "asan" _tf_rt "${_tf_kind}")
  string(REPLACE "thread" "tsan" _tf_rt "${_tf_rt}")
  if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    set(_tf_rt "lib${_tf_rt}.so")
  else()
    set(_tf_rt "libclang_rt.${_tf_rt}-${CMAKE_SYSTEM_PROCESSOR}.so")
  endif()
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${_tf_rt}
    OUTPUT_VARIABLE _tf_path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(IS_ABSOLUTE "${_tf_path}" AND EXISTS "${_tf_path}")
    get_filename_component(TRUFLUX_SANITIZER_PRELOAD "${_tf_path}" REALPATH)
  endif()
endforeach()
unset(_tf_kind)
unset(_tf_rt)
unset(_tf_path)
