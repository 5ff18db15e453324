# Fails naming every test source that measures or asserts speed: a rate
# (MB/s, MiB/s, GB/s...), "throughput" or bytes_per_second. Speed depends on
# the machine and its load, so a test that checks it fails for no fault of
# the code, and one that only prints it checks nothing: measurements belong
# in bench/ (bench/micro for single parts), never in tests/.
#   cmake -DSOURCE_DIR=<checkout> -P tests/no_speed_checks.cmake
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<checkout> -P no_speed_checks.cmake")
endif()
file(GLOB_RECURSE sources "${SOURCE_DIR}/tests/*.cc" "${SOURCE_DIR}/tests/*.h")
if(NOT sources)
  message(FATAL_ERROR "no test sources under ${SOURCE_DIR}/tests")
endif()
set(pattern "[KMGT]i?B/s|[Tt]hroughput|THROUGHPUT|bytes_per_second")
set(found "")
foreach(source IN LISTS sources)
  file(STRINGS "${source}" lines REGEX "${pattern}")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH name "${SOURCE_DIR}" "${source}")
    string(STRIP "${line}" line)
    string(APPEND found "\n  ${name}: ${line}")
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "speed is measured in bench/, not in tests (move it to bench/micro):${found}")
endif()
