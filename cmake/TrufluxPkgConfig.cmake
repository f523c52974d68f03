# Install-time helper (see TrufluxInstall.cmake): writes truflux.pc for CMAKE_INSTALL_PREFIX
# as `cmake --install` sets it, then installs it (honouring DESTDIR and the manifest).
# In: TRUFLUX_PC_IN, TRUFLUX_PC_OUT, TRUFLUX_PC_VERSION, TRUFLUX_PC_LIBDIR,
#     TRUFLUX_PC_INCLUDEDIR (GNUInstallDirs values, relative or absolute).
set(TRUFLUX_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(_kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${TRUFLUX_PC_${_kind}}")
    set(_tf_abs_${_kind} "${TRUFLUX_PC_${_kind}}")
  else()
    set(_tf_abs_${_kind} "${CMAKE_INSTALL_PREFIX}/${TRUFLUX_PC_${_kind}}")
    # Written relative to ${prefix}, so `pkg-config --define-variable=prefix=...` works.
    if(_kind STREQUAL "LIBDIR")
      set(TRUFLUX_PC_${_kind} "\${exec_prefix}/${TRUFLUX_PC_${_kind}}")
    else()
      set(TRUFLUX_PC_${_kind} "\${prefix}/${TRUFLUX_PC_${_kind}}")
    endif()
  endif()
endforeach()
configure_file("${TRUFLUX_PC_IN}" "${TRUFLUX_PC_OUT}" @ONLY)
file(INSTALL DESTINATION "${_tf_abs_LIBDIR}/pkgconfig" TYPE FILE FILES "${TRUFLUX_PC_OUT}")
