# keyward_add_test(NAME <target> SOURCES <files...> LIBS <targets...>)
#
# One GoogleTest executable; every TEST is registered with CTest through gtest_discover_tests so that
# `ctest -N` lists each case. Unit tests live beside the code they test and are added from that folder.
function(keyward_add_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT KEYWARD_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gmock_main keyward_options keyward_warnings)
  # Tests find fixtures and built tools through these, wherever they are run from.
  target_compile_definitions(${ARG_NAME} PRIVATE
    KEYWARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}" KEYWARD_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  gtest_discover_tests(${ARG_NAME}
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()
