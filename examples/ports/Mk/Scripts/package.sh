#!/bin/sh
# package.sh: writes PKGFILE, a gzip'd tar holding +MANIFEST first and then the files
# staged under STAGEDIR/PREFIX, relative to PREFIX. Reproducible (fixed mtime, owner,
# order) and atomic (written to a temporary name in the same directory, then renamed).
set -e
export LC_ALL=C
root="$STAGEDIR$PREFIX"
meta="$WRKDIR/.pkgmeta"
rm -rf "$meta"
mkdir -p "$meta" "$root" "${PKGFILE%/*}"

# pkgname_of ORIGIN: the package name the dependency's port produces (cat/port[@flavor]).
pkgname_of() {
	dir=${1%@*}
	flavor=
	case $1 in *@*) flavor=${1#*@} ;; esac
	# A clean environment: this port's variables must not leak into the dependency's answer.
	env -i PATH="$PATH" ${MAKESYSPATH:+MAKESYSPATH="$MAKESYSPATH"} "$MAKE" -C "$PORTSDIR/$dir" ${flavor:+FLAVOR=$flavor} \
		PORTSDIR="$PORTSDIR" LOCALBASE="$LOCALBASE" BATCH=yes PACKAGE_BUILDING=yes -V '${PKGNAME}'
}

{
	echo "name: $PORTNAME"
	echo "version: $PKGVERSION"
	echo "pkgname: $PKGNAME"
	echo "origin: $PKGORIGIN"
	[ -z "$FLAVOR" ] || echo "flavor: $FLAVOR"
	echo "prefix: $PREFIX"
	echo "comment: $COMMENT"
	echo "maintainer: $MAINTAINER"
	for entry in $RUNTIME_DEPENDS; do
		rest=${entry#*:}
		origin=${rest%%:*}
		origin=${origin#"$PORTSDIR"/}
		echo "$origin"
	done | sort -u | while read -r origin; do
		name=$(pkgname_of "$origin") || { echo "===>  $PKGNAME: cannot read the package name of dependency $origin" >&2; exit 1; }
		echo "dep: $origin $name"
	done
	for o in $SELECTED_OPTIONS; do echo "option: $o on"; done
	for o in $DESELECTED_OPTIONS; do echo "option: $o off"; done
} > "$meta/+MANIFEST"

tmp="${PKGFILE%/*}/.${PKGFILE##*/}.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# +MANIFEST first, then one argument per top-level staged entry (none for a meta port).
set -- -C "$meta" +MANIFEST
entries=$(cd "$root" && ls -A)
# shellcheck disable=SC2086
[ -z "$entries" ] || set -- "$@" -C "$root" $entries
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -I 'gzip -n' -cf "$tmp" "$@"
mv -f "$tmp" "$PKGFILE"
trap - EXIT
echo "===>  Created $PKGFILE"
