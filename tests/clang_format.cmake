# Fail when any tracked C file differs from .clang-format: cmake -DCLANG_FORMAT= -DROOT= -P
# Fails too when clang-format is missing (CLANG_FORMAT empty or CLANG_FORMAT-NOTFOUND).
if(NOT CLANG_FORMAT OR NOT EXISTS "${CLANG_FORMAT}")
  message(FATAL_ERROR "clang-format not found (\"${CLANG_FORMAT}\"): "
                      "install it (scripts/deps.sh test)")
endif()
file(GLOB_RECURSE files RELATIVE ${ROOT}
     ${ROOT}/core/*.[ch] ${ROOT}/handlers/*.[ch] ${ROOT}/server/*.[ch] ${ROOT}/tests/*.[ch])
list(FILTER files EXCLUDE REGEX "^build")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
                WORKING_DIRECTORY ${ROOT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format: files above need formatting (run clang-format -i)")
endif()
list(LENGTH files n)
message(STATUS "clang-format: ${n} files clean")
