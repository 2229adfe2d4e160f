#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The layers of src/ point only down (docs/runtime.md, "Layers").  Fails,
# naming the file, when a file includes a header of a higher layer, or when
# an object file of the library uses a symbol that only a higher layer
# defines (from `nm`: what each object defines and what it needs).
#
#   tests/check_layers.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "${1:?usage: check_layers.sh SOURCE_DIR BUILD_DIR}" && pwd)/src
build=$(cd "${2:?usage: check_layers.sh SOURCE_DIR BUILD_DIR}" && pwd)
command -v nm >/dev/null || { echo "skipped: no nm"; exit 77; }

# Bottom to top; the files directly in src/ are the base layer.
layers=(base context loop task debug sync combinators io http db entry)

layer_of() { # path below src/ -> its layer's index, or -1 outside src/
  local rel=${1#"$src"/} dir
  [[ $1 == "$src"/* ]] || { echo -1; return; }
  if [[ $rel == */* ]]; then dir=${rel%%/*}; else dir=base; fi
  for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$dir" ]] && { echo "$i"; return; }; done
  echo "check_layers: $rel is in no known layer (add its folder to the list)" >&2
  exit 1
}

fail=0
# 1. Includes.
while IFS= read -r file; do
  mine=$(layer_of "$file")
  while IFS= read -r inc; do
    target=$(realpath -m "$(dirname "$file")/$inc")
    theirs=$(layer_of "$target")
    if ((theirs > mine)); then
      echo "layer violation: ${file#"$src"/} (${layers[$mine]}) includes ${target#"$src"/} (${layers[$theirs]})"
      fail=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(find "$src" -name '*.[ch]' | sort)

# 2. Symbols: who defines what, then who needs what.
objdir=$build/CMakeFiles/cio_objects.dir/src
[ -d "$objdir" ] || { echo "check_layers: no objects in $objdir (build first)"; exit 1; }
declare -A defined_in
while IFS= read -r obj; do
  srcfile=$src/${obj#"$objdir"/}
  srcfile=${srcfile%.o}
  [ -f "$srcfile" ] || continue # a stale object of a file since moved
  while read -r sym; do defined_in[$sym]=$srcfile; done \
    < <(nm --defined-only -g "$obj" | awk '{print $3}')
done < <(find "$objdir" -name '*.o' | sort)
while IFS= read -r obj; do
  srcfile=$src/${obj#"$objdir"/}
  srcfile=${srcfile%.o}
  [ -f "$srcfile" ] || continue
  mine=$(layer_of "$srcfile")
  while read -r sym; do
    [[ -n ${defined_in[$sym]:-} ]] || continue # libc and friends
    theirs=$(layer_of "${defined_in[$sym]}")
    if ((theirs > mine)); then
      echo "layer violation: ${srcfile#"$src"/} (${layers[$mine]}) uses $sym from ${defined_in[$sym]#"$src"/} (${layers[$theirs]})"
      fail=1
    fi
  done < <(nm -u "$obj" | awk '{print $2}')
done < <(find "$objdir" -name '*.o' | sort)

if ((fail)); then
  echo "the layers, bottom to top: ${layers[*]} (docs/runtime.md)"
  exit 1
fi
echo "layers: every include and every symbol points down (${layers[*]})"
