# portsync make profile "midnightbsd": bsd.mport.options.mk (as MidnightBSD's /usr/share/mk)
# Lets a port use its OPTIONS before including bsd.port.pre.mk.

USEOPTIONSMK=	yes
INOPTIONSMK=	yes

.include <bsd.port.mk>

.undef INOPTIONSMK
