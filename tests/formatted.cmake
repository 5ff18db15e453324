# Fails naming every C++ source that .clang-format would change, so the
# layout stays the one the project chose (Google's style at 100 columns)
# without a reviewer having to say so.
#   cmake -DSOURCE_DIR=<checkout> -DCLANG_FORMAT=<clang-format-14> -P tests/formatted.cmake
# Fix with: clang-format-14 -i FILE...
if(NOT SOURCE_DIR OR NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format-14 is needed (scripts/dev.sh deps installs it); "
                      "usage: cmake -DSOURCE_DIR=<checkout> -DCLANG_FORMAT=<path> -P formatted.cmake")
endif()
set(sources "")
foreach(folder store fs tools jobs tests fuzz bench/micro)
  file(GLOB_RECURSE found "${SOURCE_DIR}/${folder}/*.cc" "${SOURCE_DIR}/${folder}/*.h")
  list(APPEND sources ${found})
endforeach()
if(NOT sources)
  message(FATAL_ERROR "no C++ sources under ${SOURCE_DIR}")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${sources}
                WORKING_DIRECTORY ${SOURCE_DIR}
                RESULT_VARIABLE result ERROR_VARIABLE complaints)
if(NOT result EQUAL 0)
  string(REGEX MATCHALL "[^\n]*: error: code should be clang-formatted" lines "${complaints}")
  list(TRANSFORM lines REPLACE ":[0-9]+:[0-9]+: error: code should be clang-formatted" "")
  list(REMOVE_DUPLICATES lines)
  list(JOIN lines "\n  " names)
  message(FATAL_ERROR "not formatted as .clang-format says (clang-format-14 -i FILE):\n  ${names}")
endif()
