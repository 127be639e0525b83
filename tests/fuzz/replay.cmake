# Runs a fuzzer once over every file in INPUTS (the regression inputs);
# passes when the folder is empty.
file(GLOB inputs ${INPUTS}/*)
if(NOT inputs)
  message(STATUS "no regression inputs in ${INPUTS}")
  return()
endif()
execute_process(COMMAND ${FUZZER} ${inputs} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed on a regression input (exit ${result})")
endif()
