#!/bin/sh
# checksum.sh: verifies SHA256 and SIZE of each of DISTFILES against DISTINFO_FILE
# (FreeBSD format: "SHA256 (name) = hex" and "SIZE (name) = bytes", where name
# includes DIST_SUBDIR/ when the port has one).
[ -n "$DISTFILES" ] || exit 0
if [ ! -f "$DISTINFO_FILE" ]; then
	echo "===>  $PKGNAME: no distinfo file $DISTINFO_FILE; create it with 'make makesum'" >&2
	exit 1
fi
failed=0
for file in $DISTFILES; do
	name=${DIST_SUBDIR:+$DIST_SUBDIR/}$file
	want_sha=$(sed -n "s|^SHA256 ($name) = ||p" "$DISTINFO_FILE")
	want_size=$(sed -n "s|^SIZE ($name) = ||p" "$DISTINFO_FILE")
	if [ -z "$want_sha" ] || [ -z "$want_size" ]; then
		echo "===>  $PKGNAME: $DISTINFO_FILE has no SHA256/SIZE entry for $name; run 'make makesum'" >&2
		failed=1
		continue
	fi
	if [ ! -f "$DISTDIR/$file" ]; then
		echo "===>  $PKGNAME: distfile $DISTDIR/$file is missing; run 'make fetch'" >&2
		failed=1
		continue
	fi
	have_sha=$(sha256sum "$DISTDIR/$file") && have_sha=${have_sha%% *}
	have_size=$(wc -c < "$DISTDIR/$file") && have_size=$((have_size + 0))
	if [ "$have_sha" != "$want_sha" ] || [ "$have_size" != "$want_size" ]; then
		echo "===>  $PKGNAME: checksum mismatch for $DISTDIR/$file: distinfo says SHA256 $want_sha SIZE $want_size, file has SHA256 $have_sha SIZE $have_size; delete the file and fetch it again, or fix $DISTINFO_FILE" >&2
		failed=1
	else
		echo "===>  $name: checksum OK"
	fi
done
exit $failed
