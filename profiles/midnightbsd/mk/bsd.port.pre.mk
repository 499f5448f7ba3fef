# portsync make profile "midnightbsd": bsd.port.pre.mk (as MidnightBSD's /usr/share/mk)

BEFOREPORTMK=	yes

.include <bsd.port.mk>

.undef BEFOREPORTMK
