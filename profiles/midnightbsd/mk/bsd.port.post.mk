# portsync make profile "midnightbsd": bsd.port.post.mk (as MidnightBSD's /usr/share/mk)

AFTERPORTMK=	yes

.include <bsd.port.mk>

.undef AFTERPORTMK
