# portsync make profile "midnightbsd": sys.mk
#
# Stands in for MidnightBSD's /usr/share/mk/sys.mk when a MidnightBSD ports tree (mports) is
# read with bmake on another system (portsync uses this directory as MAKESYSPATH). It holds only
# what the ports framework needs from the system makefiles: the target's identity and tool
# defaults. Nothing is read from the host: no /etc/make.conf, no /etc/src.conf.
#
# The target's identity (OPSYS, OSVERSION, ARCH, ...) and the answers to the framework's
# parse-time probes (`!=`: compiler version, `id -u`, sysctls ...) come from the probe cache
# portsync generates from this profile's profile.json (see profiles/README.md): one file,
# included here, so that reading a port forks no shell for them.

unix?=		We run MidnightBSD, not UNIX.
.MidnightBSD?=	true
.FreeBSD?=	false

.if defined(PORTSYNC_PROBE_CACHE) && !empty(PORTSYNC_PROBE_CACHE)
.include "${PORTSYNC_PROBE_CACHE}"
.else
.error portsync make profile midnightbsd: PORTSYNC_PROBE_CACHE is not set; it names the probe cache portsync generates (run portsync with make.profile, or see profiles/README.md)
.endif

# The machine of the target, not of the host (bmake sets these from uname on Linux).
MACHINE=	${PROFILE_MACHINE}
MACHINE_ARCH=	${PROFILE_MACHINE_ARCH}
MACHINE_CPUARCH=	${PROFILE_MACHINE_ARCH}

# Tool defaults of the base system (sys.mk).
AR?=		ar
ARFLAGS?=	-crD
AS?=		as
AFLAGS?=
CC?=		cc
CFLAGS?=	-O2 -pipe
CXX?=		c++
CXXFLAGS?=	${CFLAGS:N-std=*}
CPP?=		cpp
ECHO?=		echo
ECHODIR?=	echo
LD?=		ld
LDFLAGS?=
LEX?=		lex
LFLAGS?=
MAKE?=		make
NM?=		nm
OBJC?=		cc
OBJCOPY?=	objcopy
RANLIB?=	ranlib
SIZE?=		size
YACC?=		yacc
YFLAGS?=	-d
SHELL?=		/bin/sh

.SUFFIXES:	.out .a .o .c .cc .cpp .cxx .C .m .y .l .s .S .sh
