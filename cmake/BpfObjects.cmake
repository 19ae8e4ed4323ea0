# bpfvm_bpf_objects(TARGET SOURCES...), for tests, benchmarks and examples: compiles BPF C
# sources (name.bpf.c) with `clang -O2 -g -target bpf` into ${CMAKE_CURRENT_BINARY_DIR}/name.bpf.o
# when TARGET builds.
find_program(BPFVM_BPF_CLANG NAMES clang clang-14 REQUIRED)
execute_process(COMMAND gcc -print-multiarch OUTPUT_VARIABLE BPFVM_MULTIARCH
                OUTPUT_STRIP_TRAILING_WHITESPACE)
function(bpfvm_bpf_objects target)
  set(outputs)
  foreach(source ${ARGN})
    get_filename_component(name ${source} NAME_WE)
    set(output ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
    add_custom_command(OUTPUT ${output}
      COMMAND ${BPFVM_BPF_CLANG} -O2 -g -target bpf -I/usr/include/${BPFVM_MULTIARCH}
              -Wall -Werror -MD -MF ${output}.d -c ${CMAKE_CURRENT_SOURCE_DIR}/${source}
              -o ${output}
      DEPENDS ${source}
      DEPFILE ${output}.d
      COMMENT "Building BPF object ${name}.bpf.o")
    list(APPEND outputs ${output})
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${outputs})
endfunction()
