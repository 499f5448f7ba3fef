#!/bin/sh
# check-depends.sh PKGNAME LOCALBASE PHASE ENTRY...
# Checks that every `target:origin[:tag]` entry is satisfied in LOCALBASE:
#   /abs/path        the file exists
#   libfoo.so[.N]    LOCALBASE/lib/libfoo.so[.N] exists
#   name>=1.2        an installed package LOCALBASE/var/db/pkg/name-<version> satisfies it
#   program          found in LOCALBASE/bin or PATH
# Prints one "missing dependency <target> (<origin>)" line per failure and exits 1.
pkgname=$1 localbase=$2 phase=$3
shift 3

# vercmp A B: prints -1, 0 or 1.
vercmp() {
	if [ "$1" = "$2" ]; then echo 0
	elif [ "$(printf '%s\n%s\n' "$1" "$2" | LC_ALL=C sort -V | head -n 1)" = "$1" ]; then echo -1
	else echo 1; fi
}

# pkg_satisfied NAME OP VERSION: some installed NAME-<version> satisfies OP VERSION.
pkg_satisfied() {
	for entry in "$localbase"/var/db/pkg/"$1"-*; do
		[ -d "$entry" ] || continue
		have=${entry##*/"$1"-}
		case $have in [0-9]*) ;; *) continue ;; esac
		c=$(vercmp "$have" "$3")
		case $2 in
			'>=') [ "$c" -ge 0 ] && return 0 ;;
			'>') [ "$c" -gt 0 ] && return 0 ;;
			'<=') [ "$c" -le 0 ] && return 0 ;;
			'<') [ "$c" -lt 0 ] && return 0 ;;
			'='|'==') [ "$c" -eq 0 ] && return 0 ;;
			*) return 0 ;;
		esac
	done
	return 1
}

missing=0
for entry in "$@"; do
	target=${entry%%:*}
	rest=${entry#*:}
	origin=${rest%%:*}
	if [ "$target" = "$entry" ] || [ -z "$origin" ]; then
		echo "===>  $pkgname: malformed dependency '$entry' (expected target:origin[:tag])" >&2
		missing=1
		continue
	fi
	[ "$target" = /nonexistent ] && continue
	case $target in
		/*) [ -e "$target" ] ;;
		*[\<\>=]*)
			name=${target%%[<>=]*}
			op=${target#"$name"}
			version=${op#"${op%%[!<>=]*}"}
			op=${op%"$version"}
			pkg_satisfied "$name" "$op" "$version" ;;
		lib*.so|lib*.so.*) [ -e "$localbase/lib/$target" ] ;;
		*) PATH="$localbase/bin:$PATH" command -v "$target" >/dev/null 2>&1 ;;
	esac && continue
	echo "===>  $pkgname: missing dependency $target ($origin) needed for $phase; install its package into $localbase" >&2
	missing=1
done
exit $missing
