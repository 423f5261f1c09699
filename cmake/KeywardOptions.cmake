# Compiler settings for keyward's own targets. Third-party code never links these.
#
#   keyward_options   language level and sanitizer flags
#   keyward_warnings  the warning set; errors when KEYWARD_WERROR is ON (CI and the presets)
#
# GCC is the project's compiler; clang builds the fuzz preset (KEYWARD_FUZZ), so warnings that only GCC
# knows are given to GCC only.

option(KEYWARD_WERROR "Treat warnings as errors" OFF)
set(KEYWARD_SANITIZE "" CACHE STRING "Comma-separated sanitizers, e.g. address,undefined")
option(KEYWARD_FUZZ "Build the libFuzzer harnesses in tests/fuzz (clang only): our code is compiled with \
-fsanitize=fuzzer-no-link,address,undefined" OFF)

add_library(keyward_options INTERFACE)
target_compile_features(keyward_options INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
if(KEYWARD_SANITIZE)
  target_compile_options(keyward_options INTERFACE
    -fsanitize=${KEYWARD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(keyward_options INTERFACE -fsanitize=${KEYWARD_SANITIZE})
endif()
if(KEYWARD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KEYWARD_FUZZ needs clang (libFuzzer); use the fuzz preset: cmake --preset fuzz")
  endif()
  if(KEYWARD_SANITIZE)
    message(FATAL_ERROR "KEYWARD_FUZZ brings its own sanitizers (address,undefined): leave KEYWARD_SANITIZE empty")
  endif()
  # Coverage instrumentation for libFuzzer in every keyward library; only the harness executables link
  # the fuzzer runtime itself (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
  target_compile_options(keyward_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(keyward_options INTERFACE -fsanitize=address,undefined)
endif()

set(gcc_only "$<CXX_COMPILER_ID:GNU>")
add_library(keyward_warnings INTERFACE)
target_compile_options(keyward_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  -Wnon-virtual-dtor -Woverloaded-virtual -Wsuggest-override -Wcast-align -Wcast-qual
  -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation $<${gcc_only}:-Wduplicated-cond>
  $<${gcc_only}:-Wduplicated-branches> $<${gcc_only}:-Wlogical-op> -Wundef -Wunused
  # Not -Wnull-dereference: at -O2 it fires inside Asio's own headers.
  $<$<BOOL:${KEYWARD_WERROR}>:-Werror>)
unset(gcc_only)
