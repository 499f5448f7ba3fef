# sys.mk: the system makefile bmake reads first when MAKESYSPATH points here.
# Deliberately tiny: no suffix rules and no shell probes, so evaluating a port's
# metadata costs one parse of a few small files and nothing else.

.SUFFIXES:

CC?=		cc
CFLAGS?=	-O2 -pipe
SH?=		/bin/sh
