# Compiles notify-email's built-in templates into the plugin, so an installed
# notify-email.so needs no files beside it.
#
# Included from CMakeLists.txt it defines notify_email_embed_templates(); run
# as a script (cmake -P) at build time it writes the header that function
# asks for: every templates/*.mustache file as a byte-exact string.
if(CMAKE_SCRIPT_MODE_FILE)
  file(GLOB names RELATIVE "${TEMPLATE_DIR}" "${TEMPLATE_DIR}/*.mustache")
  list(SORT names)
  set(entries "")
  foreach(name IN LISTS names)
    file(READ "${TEMPLATE_DIR}/${name}" bytes HEX)
    string(LENGTH "${bytes}" digits)
    math(EXPR size "${digits} / 2")
    # Every byte as \xNN, 24 bytes to a line of adjacent string literals.
    set(lines "")
    set(offset 0)
    while(offset LESS digits)
      string(SUBSTRING "${bytes}" ${offset} 48 chunk)
      string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" chunk "${chunk}")
      string(APPEND lines "\n      \"${chunk}\"")
      math(EXPR offset "${offset} + 48")
    endwhile()
    if(lines STREQUAL "")
      set(lines " \"\"")
    endif()
    string(APPEND entries "    {\"${name}\", std::string_view(${lines},\n                      ${size})},\n")
  endforeach()
  set(text "// Generated from ${TEMPLATE_DIR} by embed_templates.cmake; do not edit.
#pragma once

#include <string_view>

namespace notify_email {

struct BuiltinTemplate {
    std::string_view file_name;  // <name>.<language>.<subject|body>.mustache
    std::string_view text;
};

inline constexpr BuiltinTemplate kBuiltinTemplates[] = {
${entries}};

}  // namespace notify_email
")
  file(WRITE "${OUTPUT}.tmp" "${text}")
  file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
  file(REMOVE "${OUTPUT}.tmp")
  return()
endif()

function(notify_email_embed_templates)
  file(GLOB templates CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/templates/*.mustache")
  set(header "${CMAKE_CURRENT_BINARY_DIR}/generated/builtin_templates.hpp")
  add_custom_command(OUTPUT "${header}"
    COMMAND "${CMAKE_COMMAND}" "-DTEMPLATE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/templates" "-DOUTPUT=${header}"
            -P "${CMAKE_CURRENT_SOURCE_DIR}/embed_templates.cmake"
    DEPENDS ${templates} "${CMAKE_CURRENT_SOURCE_DIR}/embed_templates.cmake"
    COMMENT "Embedding notify-email's built-in templates"
    VERBATIM)
  foreach(target notify-email notify-email-stdio)
    if(TARGET ${target})
      target_sources(${target} PRIVATE "${header}")
      target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_BINARY_DIR}/generated")
    endif()
  endforeach()
endfunction()
