#!/bin/sh
# fetch.sh: fetches each of DISTFILES missing from DISTDIR, trying MASTER_SITES in order.
# A site is a file:// URL, a local directory, or any URL curl understands.
# Each file is written to a temporary name first and renamed when complete.
[ -n "$DISTFILES" ] || exit 0
mkdir -p "$DISTDIR" || { echo "===>  $PKGNAME: cannot create DISTDIR $DISTDIR" >&2; exit 1; }
for file in $DISTFILES; do
	[ -f "$DISTDIR/$file" ] && continue
	# mktemp, not $$: builds run in their own PID namespaces, where two shells can have the same pid
	# (mktemp makes it 0600: made readable for the unprivileged phases once it is complete).
	tmp=$(mktemp "$DISTDIR/.$file.fetch.XXXXXX") || { echo "===>  $PKGNAME: cannot write in DISTDIR $DISTDIR" >&2; exit 1; }
	ok=
	for site in $MASTER_SITES; do
		echo "===>  Fetching $site$file"
		case $site in
			file://*) cp "${site#file://}$file" "$tmp" ;;
			/*) cp "$site$file" "$tmp" ;;
			*) curl -fsSL -o "$tmp" "$site$file" ;;
		esac && chmod 644 "$tmp" && mv -f "$tmp" "$DISTDIR/$file" && { ok=1; break; }
		rm -f "$tmp"
	done
	if [ -z "$ok" ]; then
		echo "===>  $PKGNAME: could not fetch $file from any of: $MASTER_SITES" >&2
		exit 1
	fi
done
