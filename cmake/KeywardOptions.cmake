# Compiler settings for keyward's own targets. Third-party code never links these.
#
#   keyward_options   language level and sanitizer flags
#   keyward_warnings  the warning set; errors when KEYWARD_WERROR is ON (CI and the presets)

option(KEYWARD_WERROR "Treat warnings as errors" OFF)
set(KEYWARD_SANITIZE "" CACHE STRING "Comma-separated sanitizers, e.g. address,undefined")

add_library(keyward_options INTERFACE)
target_compile_features(keyward_options INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
if(KEYWARD_SANITIZE)
  target_compile_options(keyward_options INTERFACE
    -fsanitize=${KEYWARD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(keyward_options INTERFACE -fsanitize=${KEYWARD_SANITIZE})
endif()

add_library(keyward_warnings INTERFACE)
target_compile_options(keyward_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnon-virtual-dtor -Woverloaded-virtual -Wsuggest-override -Wcast-align -Wcast-qual
  -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation -Wduplicated-cond
  -Wduplicated-branches -Wlogical-op -Wundef -Wunused
  # Not -Wnull-dereference: at -O2 it fires inside Asio's own headers.
  $<$<BOOL:${KEYWARD_WERROR}>:-Werror>)
