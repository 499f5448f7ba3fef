# bsd.port.mk: portsync's example ports framework, a small subset of FreeBSD's.
# Variables, targets and the package layout are described in README.md here.

.if !defined(_PORTSYNC_OPTIONS_DONE)
.include "${.PARSEDIR}/bsd.port.options.mk"
.endif

_PORTSMK:=	${.PARSEDIR}
_SCRIPTS:=	${.PARSEDIR}/Scripts

.for _v in PORTNAME PORTVERSION
.  if !defined(${_v}) || empty(${_v})
.    error ${.CURDIR}/Makefile: ${_v} is not set; every port must set PORTNAME and PORTVERSION
.  endif
.endfor

# --- where things are -------------------------------------------------------
PORTSDIR?=	${.CURDIR:H:H}
LOCALBASE?=	/usr/local
PREFIX?=	${LOCALBASE}
DISTDIR?=	${PORTSDIR}/distfiles
PACKAGES?=	${PORTSDIR}/packages
MASTERDIR?=	${.CURDIR}
FILESDIR?=	${MASTERDIR}/files
DISTINFO_FILE?=	${MASTERDIR}/distinfo
WRKDIRPREFIX?=
WRKDIR?=	${WRKDIRPREFIX}${.CURDIR}/work${FLAVOR:C/.+/-&/}
STAGEDIR?=	${WRKDIR}/stage
MAKE_JOBS_NUMBER?=	1

# --- names ------------------------------------------------------------------
PORTREVISION?=	0
PKGVERSION?=	${PORTVERSION}${PORTREVISION:N0:C/.+/_&/}
PKGNAME?=	${PKGNAMEPREFIX}${PORTNAME}${PKGNAMESUFFIX}-${PKGVERSION}
PKG_SUFX?=	.tgz
PKGFILE?=	${PACKAGES}/All/${PKGNAME}${PKG_SUFX}
PKGORIGIN?=	${.CURDIR:H:T}/${.CURDIR:T}${FLAVOR:N${FLAVORS:[1]}:C/.+/@&/}

# --- distfiles --------------------------------------------------------------
DISTNAME?=	${PORTNAME}-${PORTVERSION}
EXTRACT_SUFX?=	.tar.gz
DISTFILES?=	${DISTNAME}${EXTRACT_SUFX}
MASTER_SITES?=	file://${PORTSDIR}/Sites/
_DISTDIR=	${DISTDIR}${DIST_SUBDIR:C/.+/\/&/}
.if defined(NO_WRKSUBDIR)
WRKSRC?=	${WRKDIR}
.else
WRKSRC?=	${WRKDIR}/${DISTNAME}
.endif

.if defined(BROKEN) && !empty(BROKEN)
IGNORE?=	is marked as broken: ${BROKEN}
.endif

# --- building ---------------------------------------------------------------
.if !empty(USES:Mgmake)
.  if ${.MAKE.OS} == "Linux"
GMAKE?=		make
.  else
GMAKE?=		gmake
.  endif
MAKE_CMD?=	${GMAKE}
.endif
MAKE_CMD?=	${MAKE}
ALL_TARGET?=	all
INSTALL_TARGET?=	install
CPPFLAGS+=	-I${LOCALBASE}/include
LDFLAGS+=	-L${LOCALBASE}/lib -Wl,-rpath,${LOCALBASE}/lib
.if !defined(MAKE_JOBS_UNSAFE)
_MAKE_JOBS=	-j${MAKE_JOBS_NUMBER}
.endif
MAKE_ARGS+=	CC=${CC:Q} CFLAGS=${CFLAGS:Q} CPPFLAGS=${CPPFLAGS:Q} LDFLAGS=${LDFLAGS:Q} \
		PREFIX=${PREFIX:Q} LOCALBASE=${LOCALBASE:Q}
# The port's own make must not inherit this make's command-line variables.
_CLEAN_MAKE_ENV=	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u __MKLVL__
MAKE_ENV+=	PATH=${LOCALBASE}/bin:$${PATH} LC_ALL=C
CONFIGURE_SCRIPT?=	configure
CONFIGURE_ARGS+=	--prefix=${PREFIX}
CONFIGURE_ENV+=	CC=${CC:Q} CFLAGS=${CFLAGS:Q} CPPFLAGS=${CPPFLAGS:Q} LDFLAGS=${LDFLAGS:Q}

_RUNTIME_DEPENDS=	${LIB_DEPENDS} ${RUN_DEPENDS}
_DEPCHECK=	${SH} ${_SCRIPTS}/check-depends.sh ${PKGNAME:Q} ${LOCALBASE:Q}

# Everything the helper scripts need, as environment.
_SCRIPT_ENV=	env PKGNAME=${PKGNAME:Q} PORTNAME=${PORTNAME:Q} PKGVERSION=${PKGVERSION:Q} \
		PKGORIGIN=${PKGORIGIN:Q} FLAVOR=${FLAVOR:Q} PREFIX=${PREFIX:Q} \
		COMMENT=${COMMENT:Q} MAINTAINER=${MAINTAINER:Q} \
		DISTDIR=${_DISTDIR:Q} DIST_SUBDIR=${DIST_SUBDIR:Q} DISTFILES=${DISTFILES:Q} \
		MASTER_SITES=${MASTER_SITES:Q} DISTINFO_FILE=${DISTINFO_FILE:Q} \
		WRKDIR=${WRKDIR:Q} STAGEDIR=${STAGEDIR:Q} PKGFILE=${PKGFILE:Q} \
		PORTSDIR=${PORTSDIR:Q} LOCALBASE=${LOCALBASE:Q} MAKE=${MAKE:Q} \
		RUNTIME_DEPENDS=${_RUNTIME_DEPENDS:Q} \
		SELECTED_OPTIONS=${SELECTED_OPTIONS:Q} DESELECTED_OPTIONS=${DESELECTED_OPTIONS:Q}

# --- targets ----------------------------------------------------------------
.MAIN: all

.if !empty(IGNORE)
.for _t in all fetch checksum extract patch configure build stage package install-package makesum
${_t}:
	@echo "===>  ${PKGNAME} ${IGNORE}" >&2; exit 1
.endfor
.else

all: build

_COOKIE.extract=	${WRKDIR}/.extract_done
_COOKIE.patch=		${WRKDIR}/.patch_done
_COOKIE.configure=	${WRKDIR}/.configure_done
_COOKIE.build=		${WRKDIR}/.build_done
_COOKIE.stage=		${WRKDIR}/.stage_done
_COOKIE.package=	${WRKDIR}/.package_done

# Each phase runs its predecessor, its dependency check, then pre-/do-/post- hooks.
_SEQ.fetch=	_fetch-depends
_SEQ.checksum=	fetch
_SEQ.extract=	checksum _extract-depends
_SEQ.patch=	${_COOKIE.extract} _patch-depends
_SEQ.configure=	${_COOKIE.patch} _build-depends
_SEQ.build=	${_COOKIE.configure} _build-depends
_SEQ.stage=	${_COOKIE.build}
_SEQ.package=	${_COOKIE.stage}
_HOOK.fetch=	fetch
_HOOK.checksum=	checksum
_HOOK.extract=	extract
_HOOK.patch=	patch
_HOOK.configure=	configure
_HOOK.build=	build
_HOOK.stage=	install
_HOOK.package=	package
.for _p in fetch checksum extract patch configure build stage package
.  if target(pre-${_HOOK.${_p}})
_SEQ.${_p}+=	pre-${_HOOK.${_p}}
.  endif
_SEQ.${_p}+=	do-${_HOOK.${_p}}
.  if target(post-${_HOOK.${_p}})
_SEQ.${_p}+=	post-${_HOOK.${_p}}
.  endif
.ORDER: ${_SEQ.${_p}}
.endfor

fetch: ${_SEQ.fetch}
checksum: ${_SEQ.checksum}

# A phase whose cookie exists is done; make is called once per phase, so this is decided at parse time.
.for _p in extract patch configure build stage package
${_p}: ${_COOKIE.${_p}}
.  if exists(${_COOKIE.${_p}})
${_COOKIE.${_p}}:
	@:
.  else
${_COOKIE.${_p}}: ${_SEQ.${_p}}
	@touch ${.TARGET}
.  endif
.endfor

_fetch-depends:
	@${_DEPCHECK} fetch ${FETCH_DEPENDS:@d@${d:Q}@}
_extract-depends:
	@${_DEPCHECK} extract ${EXTRACT_DEPENDS:@d@${d:Q}@}
_patch-depends:
	@${_DEPCHECK} patch ${PATCH_DEPENDS:@d@${d:Q}@}
_build-depends:
	@${_DEPCHECK} build ${BUILD_DEPENDS:@d@${d:Q}@} ${LIB_DEPENDS:@d@${d:Q}@}

.if !target(do-fetch)
do-fetch:
	@${_SCRIPT_ENV} ${SH} ${_SCRIPTS}/fetch.sh
.endif

.if !target(do-checksum)
do-checksum:
	@${_SCRIPT_ENV} ${SH} ${_SCRIPTS}/checksum.sh
.endif

.if !target(do-extract)
do-extract:
	@rm -rf ${WRKDIR} && mkdir -p ${WRKDIR}
.  for _f in ${DISTFILES}
	@tar -xf ${_DISTDIR}/${_f} -C ${WRKDIR} || { echo "===>  ${PKGNAME}: cannot extract ${_DISTDIR}/${_f}" >&2; exit 1; }
.  endfor
.endif

.if !target(do-patch)
do-patch:
	@mkdir -p ${WRKSRC}
	@for p in ${FILESDIR}/patch-*; do \
		[ -f "$$p" ] || continue; \
		echo "===>  Applying ${PKGNAME} patch $${p##*/}"; \
		patch -p0 -d ${WRKSRC} --forward --batch < "$$p" || { \
			echo "===>  ${PKGNAME}: patch $$p does not apply cleanly to ${WRKSRC}; fix or regenerate it" >&2; \
			exit 1; }; \
	done
.endif

.if !target(do-configure)
do-configure:
.  if defined(HAS_CONFIGURE)
	@cd ${WRKSRC} && ${_CLEAN_MAKE_ENV} ${CONFIGURE_ENV} ${SH} ./${CONFIGURE_SCRIPT} ${CONFIGURE_ARGS}
.  else
	@:
.  endif
.endif

.if !target(do-build)
do-build:
.  if defined(NO_BUILD)
	@:
.  else
	@cd ${WRKSRC} && ${_CLEAN_MAKE_ENV} ${MAKE_ENV} ${MAKE_CMD} ${_MAKE_JOBS} ${MAKE_ARGS} ${ALL_TARGET}
.  endif
.endif

# stage: do-install puts the files into ${STAGEDIR}${PREFIX} (FreeBSD's hook name).
.if !target(do-install)
do-install:
	@mkdir -p ${STAGEDIR}${PREFIX}
.  if !defined(NO_BUILD) && !defined(NO_INSTALL)
	@cd ${WRKSRC} && ${_CLEAN_MAKE_ENV} ${MAKE_ENV} ${MAKE_CMD} ${MAKE_ARGS} DESTDIR=${STAGEDIR:Q} ${INSTALL_TARGET}
.  endif
.endif

.if !target(do-package)
do-package:
	@${_SCRIPT_ENV} ${SH} ${_SCRIPTS}/package.sh
.endif

install-package:
	@${SH} ${_SCRIPTS}/install-package.sh ${PKGFILE:Q} ${LOCALBASE:Q}

makesum: fetch
	@${_SCRIPT_ENV} ${SH} ${_SCRIPTS}/makesum.sh

.endif # IGNORE

clean:
	@rm -rf ${WRKDIR}

.PHONY: all fetch checksum extract patch configure build stage package install-package makesum clean \
	_fetch-depends _extract-depends _patch-depends _build-depends \
	do-fetch do-checksum do-extract do-patch do-configure do-build do-install do-package
