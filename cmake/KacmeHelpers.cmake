# SPDX-License-Identifier: Apache-2.0
# Shared build settings: warnings, sanitizers, and helpers for modules, unit tests and fuzzers.

set(KACME_WARNINGS -Wall -Wextra -Werror -Wmissing-prototypes -Wmissing-declarations -Wstrict-prototypes
    -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter)
set(KACME_DEFINES _GNU_SOURCE KACME_VERSION="${PROJECT_VERSION}")

if(KACME_FUZZ)
  # Coverage instrumentation for every module the fuzz targets link; the targets add -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

if(KACME_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# kacme_target_defaults(TARGET): the project's warnings and definitions on one target.
function(kacme_target_defaults target)
  target_compile_options(${target} PRIVATE ${KACME_WARNINGS})
  target_compile_definitions(${target} PRIVATE ${KACME_DEFINES})
endfunction()

# kacme_module(NAME DIR [LIBS ...]): an OBJECT library of every .c in DIR (not main.c), public include
# directory ${CMAKE_SOURCE_DIR}/lib, linked to LIBS. All modules are gathered into libkacme.a as well.
function(kacme_module name)
  cmake_parse_arguments(M "" "DIR" "LIBS" ${ARGN})
  if(NOT M_DIR)
    set(M_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  file(GLOB srcs CONFIGURE_DEPENDS ${M_DIR}/*.c)
  list(FILTER srcs EXCLUDE REGEX "/main\\.c$")
  add_library(${name} OBJECT ${srcs})
  kacme_target_defaults(${name})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/lib ${M_DIR})
  target_link_libraries(${name} PUBLIC ${M_LIBS})
  set_property(GLOBAL APPEND PROPERTY KACME_MODULES ${name})
endfunction()

# kacme_add_unit_test(NAME SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s]): a cmocka test under CTest,
# labelled "unit" unless LABELS says otherwise.
function(kacme_add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  kacme_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "KACME_SOURCE_DIR=${CMAKE_SOURCE_DIR};KACME_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()

# kacme_add_script_test(NAME COMMAND ... LABELS ... [FIXTURES ...] [TIMEOUT s]): a test that runs a script
# (integration / e2e), with the source and build directories in its environment.
function(kacme_add_script_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS;FIXTURES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "KACME_SOURCE_DIR=${CMAKE_SOURCE_DIR};KACME_BUILD_DIR=${CMAKE_BINARY_DIR}")
  if(T_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
endfunction()

# kacme_add_fuzzer(NAME SOURCES ... LIBS ... CORPUS dir): a libFuzzer target (KACME_FUZZ=ON, clang), and a
# short CTest run over its corpus labelled "fuzz".
function(kacme_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS 20)
  endif()
  add_executable(${name} ${F_SOURCES})
  kacme_target_defaults(${name})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  # libFuzzer writes new inputs into its first corpus directory: a scratch one in the build tree, so the
  # committed seed corpus stays read-only.
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  file(MAKE_DIRECTORY ${scratch})
  add_test(NAME ${name} COMMAND ${name} -max_total_time=${F_SECONDS} -rss_limit_mb=2048 ${scratch} ${F_CORPUS})
  set_tests_properties(${name} PROPERTIES LABELS "fuzz" TIMEOUT 300)
endfunction()
