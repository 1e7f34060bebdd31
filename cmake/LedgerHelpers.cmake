# ledger_library(NAME SOURCES ... DEPS ...): a module library with project warnings.
function(ledger_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_SOURCES)
    return()  # a module with no code yet
  endif()
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  # Generated code (protobuf) lives under the build dir; a system include keeps its warnings out.
  target_include_directories(${name} SYSTEM PUBLIC ${CMAKE_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ledger_warnings)
endfunction()

# ledger_test(NAME LABEL unit|sim|integration SOURCES ... DEPS ... [TIMEOUT s]):
# a GoogleTest binary whose tests CTest discovers one by one, labelled for selection.
function(ledger_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_SOURCES)
    return()  # a module with no tests yet
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main
                        ledger_warnings)
  target_compile_definitions(${name} PRIVATE LEDGER_VECTORS_DIR="${LEDGER_VECTORS_DIR}"
                             LEDGER_BINARY_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()

# ledger_protos(TARGET): compiles every .proto in the calling folder into TARGET. Protos import
# each other by their path from the repository root ("ledger/ledger.proto"), and code includes the
# generated header the same way ("ledger/ledger.pb.h").
function(ledger_protos target)
  file(GLOB protos CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.proto)
  foreach(abs ${protos})
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${abs})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(out_cc ${CMAKE_BINARY_DIR}/${stem}.pb.cc)
    set(out_h ${CMAKE_BINARY_DIR}/${stem}.pb.h)
    add_custom_command(OUTPUT ${out_cc} ${out_h}
      COMMAND protobuf::protoc -I ${CMAKE_SOURCE_DIR} --cpp_out=${CMAKE_BINARY_DIR} ${abs}
      DEPENDS ${abs} protobuf::protoc
      COMMENT "protoc ${rel}" VERBATIM)
    set_source_files_properties(${out_cc} PROPERTIES COMPILE_OPTIONS "-w")
    target_sources(${target} PRIVATE ${out_cc} ${out_h})
  endforeach()
endfunction()
