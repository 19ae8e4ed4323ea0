# cmake -P: checks a clang -target bpf object and turns its code section into an include file.
#
#   -DOBJECT=x.bpf.o -DSECTION=.text -DREADELF=llvm-readelf -DOBJCOPY=llvm-objcopy
#   -DBIN=x.bin -DINC=x.bytecode.inc
#
# The benchmark runner loads the section as a raw program, so the object must be
# self-contained: no relocations at all (a relocation means a map, a global, a .rodata table
# from a switch, or a call to another function), and no data sections.
foreach(var OBJECT SECTION READELF OBJCOPY BIN INC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "extract_bytecode.cmake: ${var} is not set")
  endif()
endforeach()

execute_process(COMMAND "${READELF}" --relocations --section-headers "${OBJECT}"
                OUTPUT_VARIABLE elf RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} failed on ${OBJECT}")
endif()
if(elf MATCHES "Relocation section '([^']*)'")
  message(FATAL_ERROR "${OBJECT}: has relocations (${CMAKE_MATCH_1}); a benchmark program "
                      "must not use maps, globals, constant tables or calls")
endif()
foreach(data_section .rodata .data .bss)
  if(elf MATCHES " \\${data_section}[. ]")
    message(FATAL_ERROR "${OBJECT}: has a ${data_section} section; benchmark programs keep "
                        "everything in ${SECTION}")
  endif()
endforeach()

execute_process(COMMAND "${OBJCOPY}" -O binary "--only-section=${SECTION}" "${OBJECT}" "${BIN}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJCOPY} could not extract ${SECTION} from ${OBJECT}")
endif()

file(READ "${BIN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
math(EXPR remainder "${size} % 8")
if(size EQUAL 0 OR NOT remainder EQUAL 0)
  message(FATAL_ERROR "${OBJECT}: ${SECTION} is ${size} bytes, not a whole number of "
                      "8-byte instructions")
endif()

# One instruction slot (8 bytes) per line.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# (CMake regexes have no {8}.)
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${INC}" "// Generated from ${OBJECT} (${SECTION}, ${size} bytes); do not edit.\n${bytes}")
