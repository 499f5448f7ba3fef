#!/bin/sh
# install-package.sh PKGFILE LOCALBASE: installs a package the way portsync does before a
# build: every file except +MANIFEST goes under LOCALBASE, and +MANIFEST is recorded as
# LOCALBASE/var/db/pkg/<pkgname>/+MANIFEST.
pkgfile=$1 localbase=$2
if [ ! -f "$pkgfile" ]; then
	echo "===>  install-package: no package file $pkgfile; build it with 'make package' first" >&2
	exit 1
fi
manifest=$(tar -xzOf "$pkgfile" +MANIFEST) || {
	echo "===>  install-package: $pkgfile has no +MANIFEST; it is not a package, rebuild it" >&2
	exit 1
}
pkgname=$(printf '%s\n' "$manifest" | sed -n 's/^pkgname: //p')
if [ -z "$pkgname" ]; then
	echo "===>  install-package: +MANIFEST of $pkgfile has no pkgname line; rebuild the package" >&2
	exit 1
fi
set -e
mkdir -p "$localbase/var/db/pkg/$pkgname"
tar -xzf "$pkgfile" -C "$localbase" --exclude=+MANIFEST
printf '%s\n' "$manifest" > "$localbase/var/db/pkg/$pkgname/+MANIFEST"
echo "===>  Installed $pkgname into $localbase"
