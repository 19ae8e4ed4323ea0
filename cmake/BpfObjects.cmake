# bpfvm_bpf_objects(TARGET name SOURCES a.bpf.c ... [OUTPUT_DIR dir] [FLAGS ...])
#
# Builds each BPF C source with `clang -O2 -g -target bpf` and libbpf's headers into
# OUTPUT_DIR/<stem>.o (stem: the file name without .bpf.c / .c), as a Linux BPF object would
# be built, and adds a custom target `name` that tests depend on. OUTPUT_DIR defaults to
# ${CMAKE_CURRENT_BINARY_DIR}. Sets BPFVM_BPF_CLANG in the cache.
find_program(BPFVM_BPF_CLANG NAMES clang clang-14 REQUIRED)

function(bpfvm_bpf_objects)
  cmake_parse_arguments(ARG "" "TARGET;OUTPUT_DIR" "SOURCES;FLAGS" ${ARGN})
  if(NOT ARG_TARGET)
    message(FATAL_ERROR "bpfvm_bpf_objects: TARGET is required")
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  # <asm/types.h> lives under the multiarch include folder on Debian.
  set(multiarch_include "")
  if(CMAKE_LIBRARY_ARCHITECTURE)
    set(multiarch_include -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
  set(outputs "")
  foreach(source ${ARG_SOURCES})
    get_filename_component(path ${source} ABSOLUTE)
    get_filename_component(name ${source} NAME)
    string(REGEX REPLACE "(\\.bpf)?\\.c$" "" stem ${name})
    set(output ${ARG_OUTPUT_DIR}/${stem}.o)
    # Flags of one source: set_source_files_properties(x.bpf.c PROPERTIES BPFVM_BPF_FLAGS ...)
    get_source_file_property(source_flags ${path} BPFVM_BPF_FLAGS)
    if(NOT source_flags)
      set(source_flags "")
    endif()
    add_custom_command(
      OUTPUT ${output}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUTPUT_DIR}
      COMMAND ${BPFVM_BPF_CLANG} -O2 -g -target bpf ${multiarch_include} ${ARG_FLAGS} ${source_flags}
              -MD -MF ${output}.d -c ${path} -o ${output}
      DEPENDS ${path}
      DEPFILE ${output}.d
      COMMENT "clang -target bpf ${name}"
      VERBATIM)
    list(APPEND outputs ${output})
  endforeach()
  add_custom_target(${ARG_TARGET} ALL DEPENDS ${outputs})
endfunction()
