# portsync make profile "midnightbsd": bsd.own.mk (owners and modes of installed files)

.if !target(__<bsd.own.mk>__)
__<bsd.own.mk>__:

BINOWN?=	root
BINGRP?=	wheel
BINMODE?=	555
NOBINMODE?=	444
LIBOWN?=	${BINOWN}
LIBGRP?=	${BINGRP}
LIBMODE?=	${NOBINMODE}
SHAREOWN?=	root
SHAREGRP?=	wheel
SHAREMODE?=	${NOBINMODE}
MANOWN?=	${SHAREOWN}
MANGRP?=	${SHAREGRP}
MANMODE?=	${NOBINMODE}
DOCOWN?=	${SHAREOWN}
DOCGRP?=	${SHAREGRP}
DOCMODE?=	${NOBINMODE}
CONFOWN?=	${SHAREOWN}
CONFGRP?=	${SHAREGRP}
CONFMODE?=	644
INCOWN?=	root
INCGRP?=	wheel
INCMODE?=	${NOBINMODE}
INCDIR?=	/usr/include
COMPRESS_CMD?=	gzip -cn
COMPRESS_EXT?=	.gz
STRIP?=		-s

.endif
