#!/bin/sh
# Installs this build into a scratch prefix and builds examples/embed against the installed
# copy twice, as embedders do: with CMake (find_package(bpfvm)) and with pkg-config. Both
# binaries must run and report matching counts; the CMake one also loads a BPF object.
# Usage: embed_installed.sh BUILD_DIR SOURCE_DIR [OBJECT]
set -eu
build=$1
source=$2
object=${3:-}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source/examples/embed" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/cmake" >/dev/null
"$scratch/cmake/embed" $object

libdir=$(dirname "$(find "$scratch/prefix" -name bpfvm.pc)")
cc "$source/examples/embed/embed.c" -o "$scratch/embed-pc" \
  $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs bpfvm)
"$scratch/embed-pc"
