# Build helpers shared by every folder: compiler flags, tests, fuzzers.

function(dvm_setup_compiler)
  add_compile_options(-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
  if(DVM_WERROR)
    add_compile_options(-Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O2 reports std::string::assign's memcpy as overlapping (GCC bug
    # 105329, a false positive), more so with TSan's instrumentation.
    add_compile_options(-Wno-restrict)
  endif()
  if(DVM_SANITIZE)
    add_compile_options(-fsanitize=${DVM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${DVM_SANITIZE})
  endif()
  if(DVM_FUZZ)
    # Instrument everything for coverage; only fuzz targets link the libFuzzer main.
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endfunction()

# dvm_add_test(NAME name SRCS a.cc b.cc LIBS lib... LABEL unit|sim|integration|lab [TIMEOUT s])
# A gtest binary registered with ctest under one label.
function(dvm_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SRCS;LIBS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABEL}" TIMEOUT ${T_TIMEOUT})
endfunction()

# dvm_add_fuzzer(NAME name SRCS a.cc LIBS lib... CORPUS dir [RUNS n])
# Built only with DVM_FUZZ=ON (clang). Registered as a ctest with label `fuzz`
# that replays the checked-in corpus and then runs a bounded number of new inputs.
function(dvm_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS;RUNS" "SRCS;LIBS" ${ARGN})
  if(NOT DVM_FUZZ)
    return()
  endif()
  if(NOT F_RUNS)
    set(F_RUNS 10000)
  endif()
  add_executable(${F_NAME} ${F_SRCS})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  # New inputs go to a scratch folder so the checked-in corpus only changes on purpose.
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}_corpus)
  add_test(NAME ${F_NAME}
           COMMAND ${CMAKE_COMMAND} -E env ${CMAKE_SOURCE_DIR}/scripts/run-fuzzer
                   $<TARGET_FILE:${F_NAME}> ${F_CORPUS} ${scratch} ${F_RUNS})
  set_tests_properties(${F_NAME} PROPERTIES LABELS "fuzz" TIMEOUT 300)
endfunction()
