# Install rules: both libraries (libtruflux.so and libtruflux.a), the public headers, the
# C++ wrapper, the CLI when it is built, a pkg-config file and a CMake package exporting
# truflux::truflux (shared) and truflux::truflux_static.
include(CMakePackageConfigHelpers)

set(TRUFLUX_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/truflux)

install(TARGETS truflux truflux_static EXPORT trufluxTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/truflux
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
# The header-only C++ wrapper (cpp/truflux.hpp, cpp/truflux/*.hpp) lands beside the C
# headers, so that the include lines that work in this tree (cpp/ on the include path) work
# for installed users too: <truflux.hpp>.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cpp/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")

if(TARGET truflux_cli)
  # The CLI finds the installed shared library wherever the prefix is moved to.
  get_target_property(_tf_cli_rpath truflux_cli INSTALL_RPATH)
  if(NOT _tf_cli_rpath)
    file(RELATIVE_PATH _tf_rel ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
    set_target_properties(truflux_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${_tf_rel}")
  endif()
  install(TARGETS truflux_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT trufluxTargets NAMESPACE truflux:: FILE trufluxTargets.cmake
  DESTINATION ${TRUFLUX_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/trufluxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/trufluxConfig.cmake INSTALL_DESTINATION ${TRUFLUX_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/trufluxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/trufluxConfig.cmake
  ${PROJECT_BINARY_DIR}/trufluxConfigVersion.cmake DESTINATION ${TRUFLUX_INSTALL_CMAKEDIR})

# truflux.pc is written at install time: `cmake --install --prefix P` may pick a prefix other
# than the configured one, and the file must name the prefix it was installed to.
# A static link needs the library's own dependencies, and libstdc++ for a C program.
set(TRUFLUX_PC_REQUIRES_PRIVATE "libevent_core >= 2.1, libevent_extra >= 2.1")
set(TRUFLUX_PC_LIBS_PRIVATE "-lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lstdc++ -lm")
if(TRUFLUX_CRYPTO_OPENSSL)
  string(APPEND TRUFLUX_PC_REQUIRES_PRIVATE ", libcrypto >= 3.0")
endif()
install(CODE "
set(TRUFLUX_PC_IN \"${PROJECT_SOURCE_DIR}/pkgconfig/truflux.pc.in\")
set(TRUFLUX_PC_OUT \"${PROJECT_BINARY_DIR}/pkgconfig/truflux.pc\")
set(TRUFLUX_PC_VERSION \"${PROJECT_VERSION}\")
set(TRUFLUX_PC_REQUIRES_PRIVATE \"${TRUFLUX_PC_REQUIRES_PRIVATE}\")
set(TRUFLUX_PC_LIBS_PRIVATE \"${TRUFLUX_PC_LIBS_PRIVATE}\")
set(TRUFLUX_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(TRUFLUX_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
include(\"${PROJECT_SOURCE_DIR}/cmake/TrufluxPkgConfig.cmake\")
")

# What scripts (scripts/test-install.sh) need to know about this build tree.
if(TARGET truflux_cli)
  set(_tf_cli "$<TARGET_FILE:truflux_cli>")
else()
  set(_tf_cli "")
endif()
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/truflux-build.env CONTENT
"TRUFLUX_VERSION=${PROJECT_VERSION}
TRUFLUX_CLI=${_tf_cli}
TRUFLUX_LIBDIR=${CMAKE_INSTALL_LIBDIR}
TRUFLUX_INCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
")
