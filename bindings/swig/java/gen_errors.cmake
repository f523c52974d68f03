# Writes TrufluxException.java from TEMPLATE, with one nested subclass per code of error.h's
# TRUFLUX_ERRNO_MAP (ERROR_H) and the factory that maps a code to its class.
# cmake -DERROR_H=... -DTEMPLATE=... -DOUT=... -P gen_errors.cmake
# file(READ), not file(STRINGS): each line ends in a backslash, which would escape the list
# separator and merge the lines.
file(READ ${ERROR_H} _text)
# A message's ';' would split the list too: replaced by a stand-in token, turned back below.
string(REPLACE ";" "@SEMI@" _text "${_text}")
string(REGEX MATCHALL "X\\([A-Z0-9_]+, *-?[0-9]+, *\"[^\"]*\"\\)" _lines "${_text}")
set(_classes "")
set(_cases "")
set(_n 0)
foreach(_l IN LISTS _lines)
  if(NOT _l MATCHES "X\\(([A-Z0-9_]+), *(-?[0-9]+), *\"([^\"]*)\"\\)")
    message(FATAL_ERROR "gen_errors: cannot parse: ${_l}")
  endif()
  set(_name ${CMAKE_MATCH_1})
  set(_num ${CMAKE_MATCH_2})
  string(REPLACE "@SEMI@" ";" _msg "${CMAKE_MATCH_3}")
  if(_num EQUAL 0)
    continue()
  endif()
  string(APPEND _classes
    "    /** ${_msg} (TRUFLUX_${_name}, ${_num}). */\n"
    "    public static class ${_name} extends TrufluxException {\n"
    "        private static final long serialVersionUID = 1L;\n"
    "        public static final int CODE = ${_num};\n"
    "        public ${_name}(String detail) { super(CODE, detail); }\n"
    "    }\n\n")
  string(APPEND _cases "            case ${_num}: return new ${_name}(detail);\n")
  math(EXPR _n "${_n} + 1")
endforeach()
if(_n LESS 10)
  message(FATAL_ERROR "gen_errors: only ${_n} codes found in ${ERROR_H}")
endif()
set(TFS_ERROR_CLASSES "${_classes}")
set(TFS_ERROR_CASES "${_cases}")
configure_file(${TEMPLATE} ${OUT} @ONLY)
