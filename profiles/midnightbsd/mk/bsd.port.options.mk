# portsync make profile "midnightbsd": bsd.port.options.mk (as MidnightBSD's /usr/share/mk)

USEOPTIONSMK=	yes
INOPTIONSMK=	yes

.include <bsd.port.mk>

.undef INOPTIONSMK
