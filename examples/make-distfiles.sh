#!/bin/sh
# Regenerates ports/Sites/<name>-<version>.tar.gz from distfile-src/<name>-<version>/
# (byte-for-byte reproducible: sorted names, mtime 0, owner 0, gzip -n), then rewrites
# the distinfo of every port that uses them with the framework's own `make makesum`.
# Usage: sh examples/make-distfiles.sh   (needs bmake, GNU tar, gzip, sha256sum)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tree="$here/ports"
export LC_ALL=C
mkdir -p "$tree/Sites"
for src in "$here"/distfile-src/*/; do
	name=$(basename "$src")
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u+rw,go-w,a+rX \
		-cf - -C "$here/distfile-src" "$name" | gzip -n -9 > "$tree/Sites/$name.tar.gz.tmp"
	mv -f "$tree/Sites/$name.tar.gz.tmp" "$tree/Sites/$name.tar.gz"
	echo "Sites/$name.tar.gz"
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for mk in "$tree"/*/*/Makefile; do
	dir=${mk%/Makefile}
	case $dir in "$tree"/Mk/*|"$tree"/Sites/*) continue ;; esac
	# Slave ports share their master's distinfo; the master writes it.
	grep -q '^MASTERDIR=' "$mk" && continue
	vars=$(MAKESYSPATH="$tree/Mk" bmake -C "$dir" PORTSDIR="$tree" -V '${DISTFILES}' -V '${IGNORE}')
	distfiles=$(printf '%s\n' "$vars" | sed -n 1p)
	[ -n "$distfiles" ] || continue
	# makesum is refused for IGNOREd ports; lift IGNORE for this one call.
	MAKESYSPATH="$tree/Mk" bmake -C "$dir" PORTSDIR="$tree" DISTDIR="$scratch" IGNORE= makesum >/dev/null
	echo "${dir#"$tree"/}/distinfo"
done
