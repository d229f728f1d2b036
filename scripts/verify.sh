#!/usr/bin/env bash
# Checks that what is generated is what is committed (after etcd's
# scripts/verify_genproto.sh): in a temporary copy of the tree it
#   - regenerates the gRPC/protobuf code (`make proto`: Debian's protoc and
#     the Go plugins at the versions go.mod pins),
#   - regenerates the OVSDB models (`make generate`: modelgen against the
#     installed OVS schema),
#   - runs `go mod tidy` in loom's module and in tools/lint,
# and fails on any difference from the tree it was run in. The copy is made
# of the files git tracks (plus new, not ignored ones) as they are on disk,
# so an uncommitted hand edit of a generated file fails too.
#
# protoc writes its own version into the header of each .pb.go. The committed
# files come from Debian 12's protoc (3.21.12); when the local protoc is
# another version, only those two header lines ("protoc vX" in loom.pb.go and
# loom_grpc.pb.go) are set aside before comparing, and the script says so:
# every other line, the plugin versions included, must match.
# third_party/libovsdb (a fork kept as upstream wrote it) is not tidied here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GO=${GO:-go}

src=$PWD
tmp=$(mktemp -d /tmp/loom-verify.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar -c --null -T - -f - | tar -x -C "$tmp"

failed=0
# differ PATH...: shows how each PATH in the copy differs from the tree.
differ() {
  local p rc=0
  for p; do
    if ! diff -ru "$src/$p" "$tmp/$p" >"$tmp/.diff" 2>&1; then
      sed -e "s|$src/|a/|g" -e "s|$tmp/|b/|g" "$tmp/.diff" | head -60 # a/: the tree, b/: regenerated
      rc=1
    fi
  done
  rm -f "$tmp/.diff"
  [ "$rc" = 0 ] || failed=1
  return "$rc"
}

echo "verify: protobuf (make proto)"
make -C "$tmp" --no-print-directory -s proto
want=$(sed -n 's|^// 	protoc        \(v.*\)$|\1|p' proto/loom/v1/loom.pb.go)
have=$(sed -n 's|^// 	protoc        \(v.*\)$|\1|p' "$tmp/proto/loom/v1/loom.pb.go")
if [ "$want" != "$have" ]; then
  echo "verify: local protoc is $have, the committed code says $want: comparing all but that header line"
  sed -i -e 's|^// 	protoc        v.*$|// 	protoc        (version)|' -e 's|^// - protoc             v.*$|// - protoc             (version)|' \
    "$tmp"/proto/loom/v1/*.pb.go
  mkdir -p "$tmp/.committed"
  for f in proto/loom/v1/*.pb.go; do
    sed -e 's|^// 	protoc        v.*$|// 	protoc        (version)|' -e 's|^// - protoc             v.*$|// - protoc             (version)|' \
      "$f" >"$tmp/.committed/$(basename "$f")"
  done
  for f in "$tmp"/proto/loom/v1/*.pb.go; do
    diff -u "$tmp/.committed/$(basename "$f")" "$f" || failed=1
  done
  rm -rf "$tmp/.committed"
else
  differ proto || echo "verify: proto/ differs from what protoc generates (run make proto)"
fi

echo "verify: OVSDB models (make generate)"
make -C "$tmp" --no-print-directory -s generate
differ ovsdb/vswitch || echo "verify: ovsdb/vswitch differs from what modelgen generates (run make generate)"

echo "verify: go mod tidy"
(cd "$tmp" && $GO mod tidy)
differ go.mod go.sum || echo "verify: go.mod/go.sum are not tidy (run go mod tidy)"
(cd "$tmp/tools/lint" && $GO mod tidy)
differ tools/lint/go.mod tools/lint/go.sum || echo "verify: tools/lint's go.mod/go.sum are not tidy (run go mod tidy there)"

if [ "$failed" != 0 ]; then
  echo "verify: FAILED" >&2
  exit 1
fi
echo "verify: generated code and go.mod files match"
