# bsd.port.options.mk: resolves FLAVOR and OPTIONS so a port Makefile can test
# them (`.if ${PORT_OPTIONS:MDOCS}`, `.if ${FLAVOR} == py312`) before it includes
# bsd.port.mk. bsd.port.mk includes this file itself when the port did not.

.if !defined(_PORTSYNC_OPTIONS_DONE)
_PORTSYNC_OPTIONS_DONE=	yes

# FLAVORS: the first one is the default; an unknown FLAVOR is an error.
.if !empty(FLAVORS)
FLAVOR?=	${FLAVORS:[1]}
.  if empty(FLAVORS:M${FLAVOR})
.    error ${.CURDIR}: unknown FLAVOR '${FLAVOR}'; this port's FLAVORS are: ${FLAVORS}
.  endif
.  if defined(${FLAVOR}_PKGNAMEPREFIX)
PKGNAMEPREFIX=	${${FLAVOR}_PKGNAMEPREFIX}
.  endif
.  if defined(${FLAVOR}_PKGNAMESUFFIX)
PKGNAMESUFFIX=	${${FLAVOR}_PKGNAMESUFFIX}
.  endif
.elif defined(FLAVOR) && !empty(FLAVOR)
.  error ${.CURDIR}: FLAVOR is set to '${FLAVOR}' but this port has no FLAVORS
.endif

# OPTIONS: OPTIONS_DEFAULT are on unless WITHOUT_<OPT> is set; WITH_<OPT> turns one on.
PORT_OPTIONS:=
.for _o in ${OPTIONS_DEFINE}
.  if (!empty(OPTIONS_DEFAULT:M${_o}) || defined(WITH_${_o})) && !defined(WITHOUT_${_o})
PORT_OPTIONS+=	${_o}
.  else
_DESELECTED+=	${_o}
.  endif
.endfor
PORT_OPTIONS:=		${PORT_OPTIONS:O:u}
SELECTED_OPTIONS:=	${PORT_OPTIONS}
DESELECTED_OPTIONS:=	${_DESELECTED:U:O:u}

# <OPT>_CFLAGS, <OPT>_*_DEPENDS ... apply when the option is on; <OPT>_CFLAGS_OFF when off.
.for _o in ${OPTIONS_DEFINE}
.  if !empty(PORT_OPTIONS:M${_o})
.    for _v in CFLAGS CPPFLAGS LDFLAGS MAKE_ARGS CONFIGURE_ARGS BUILD_DEPENDS LIB_DEPENDS RUN_DEPENDS
.      if defined(${_o}_${_v})
${_v}+=	${${_o}_${_v}}
.      endif
.    endfor
.  else
.    for _v in CFLAGS CPPFLAGS LDFLAGS MAKE_ARGS CONFIGURE_ARGS
.      if defined(${_o}_${_v}_OFF)
${_v}+=	${${_o}_${_v}_OFF}
.      endif
.    endfor
.  endif
.endfor
.endif
