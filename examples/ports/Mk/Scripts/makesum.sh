#!/bin/sh
# makesum.sh: writes DISTINFO_FILE from the fetched DISTFILES.
[ -n "$DISTFILES" ] || { echo "===>  $PKGNAME has no distfiles; no distinfo needed"; exit 0; }
tmp="$DISTINFO_FILE.tmp.$$"
: > "$tmp" || exit 1
for file in $DISTFILES; do
	name=${DIST_SUBDIR:+$DIST_SUBDIR/}$file
	sha=$(sha256sum "$DISTDIR/$file") || { rm -f "$tmp"; exit 1; }
	size=$(wc -c < "$DISTDIR/$file")
	printf 'SHA256 (%s) = %s\nSIZE (%s) = %d\n' "$name" "${sha%% *}" "$name" "$size" >> "$tmp"
done
mv -f "$tmp" "$DISTINFO_FILE"
