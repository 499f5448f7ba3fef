/* K&R C that modern compilers reject; the port is IGNOREd. */
main(argc, argv) int argc; char **argv; { gets(0); return 0; }
