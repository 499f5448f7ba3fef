# portsync make profile "midnightbsd": bsd.port.subdir.mk (as MidnightBSD's /usr/share/mk)

PORTSDIR?=	/usr/mports
BSDPORTSUBDIRMK?=	${PORTSDIR}/Mk/bsd.port.subdir.mk

.include "${BSDPORTSUBDIRMK}"
