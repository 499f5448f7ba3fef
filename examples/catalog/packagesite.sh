#!/bin/sh
# packagesite.sh: the example framework's catalog command (builds.yaml: repository.catalogCommand).
# portsync runs it in the staging copy of the repository before publishing it; it writes
# packagesite.yaml there, one JSON object per package as FreeBSD's pkg catalog has them:
#   {"name":…,"origin":…,"version":…,"pkgname":…,"path":"All/…","sum":"<sha256>","pkgsize":…}
# read from each package's +MANIFEST. A package it cannot read makes it exit 1: the pass then
# keeps the published repository as it was.
set -eu
export LC_ALL=C
cd "${PORTSYNC_REPOSITORY:-.}"

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else sha256 -q "$1"; fi
}
# field NAME: the value of "NAME: value" in the manifest on stdin.
field() { sed -n "s/^$1: //p" | head -n 1; }
json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

tmp=".packagesite.yaml.tmp.$$"
trap 'rm -f "$tmp"' EXIT
: > "$tmp"
count=0
for pkg in All/*.tgz; do
	[ -e "$pkg" ] || continue
	manifest=$(tar -xzOf "$pkg" +MANIFEST) || { echo "packagesite.sh: cannot read +MANIFEST of $pkg" >&2; exit 1; }
	name=$(printf '%s\n' "$manifest" | field name)
	version=$(printf '%s\n' "$manifest" | field version)
	origin=$(printf '%s\n' "$manifest" | field origin)
	pkgname=$(printf '%s\n' "$manifest" | field pkgname)
	[ -n "$name" ] && [ -n "$version" ] || { echo "packagesite.sh: $pkg has no name or version in its +MANIFEST" >&2; exit 1; }
	size=$(wc -c < "$pkg" | tr -d ' ')
	printf '{"name":"%s","origin":"%s","version":"%s","pkgname":"%s","path":"%s","sum":"%s","pkgsize":%s}\n' \
		"$(json "$name")" "$(json "$origin")" "$(json "$version")" "$(json "$pkgname")" "$(json "$pkg")" "$(sha256_of "$pkg")" "$size" >> "$tmp"
	count=$((count + 1))
done
mv -f "$tmp" packagesite.yaml
trap - EXIT
echo "packagesite.sh: ${PORTSYNC_REPOSITORY_NAME:-repository}: $count packages in packagesite.yaml"
