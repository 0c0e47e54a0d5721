#!/usr/bin/env bash
# Fetches one pinned DuckDB release from the npm registry and unpacks it into
# .deps/duckdb (git-ignored): lib/libduckdb.so from @duckdb/node-bindings-linux-x64,
# include/duckdb.h from the duckdb package (same DuckDB release). Each tarball's
# sha512 is checked against the integrity pinned below before anything is unpacked.
# The tarballs are cached in ~/.cache/landfall so a re-run needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

DUCKDB_VERSION=1.4.4
LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
LIB_SHA512="jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
HDR_PKG="duckdb@1.4.4"
HDR_SHA512="hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

dest=.deps/duckdb
if [[ -f $dest/VERSION && $(cat $dest/VERSION) == "$DUCKDB_VERSION" && -f $dest/lib/libduckdb.so && -f $dest/include/duckdb.h ]]; then
  echo "fetch-duckdb: DuckDB $DUCKDB_VERSION already in $dest"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/landfall/npm"
mkdir -p "$cache"

fetch() {  # fetch PKG SHA512 -> prints tarball path
  local pkg=$1 sha=$2 name file
  name=$(echo "$pkg" | sed -e 's/^@//' -e 's#/#-#' -e 's/@/-/')
  file="$cache/$name.tgz"
  if [[ ! -f $file ]] || [[ $(openssl dgst -sha512 -binary "$file" | base64 -w0) != "$sha" ]]; then
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>&1) || { echo "fetch-duckdb: npm pack $pkg failed" >&2; exit 1; }
    mv "$tmp"/*.tgz "$file"; rm -rf "$tmp"
  fi
  local got; got=$(openssl dgst -sha512 -binary "$file" | base64 -w0)
  if [[ $got != "$sha" ]]; then
    echo "fetch-duckdb: integrity mismatch for $pkg: expected sha512-$sha, got sha512-$got" >&2
    rm -f "$file"; exit 1
  fi
  echo "$file"
}

lib_tgz=$(fetch "$LIB_PKG" "$LIB_SHA512")
hdr_tgz=$(fetch "$HDR_PKG" "$HDR_SHA512")

rm -rf "$dest"; mkdir -p "$dest/lib" "$dest/include"
tar -xzf "$lib_tgz" -C "$dest/lib" --strip-components=1 package/libduckdb.so
tar -xzf "$hdr_tgz" -C "$dest/include" --strip-components=5 package/src/duckdb/src/include/duckdb.h
echo "$DUCKDB_VERSION" > "$dest/VERSION"
echo "fetch-duckdb: DuckDB $DUCKDB_VERSION ready in $dest"
