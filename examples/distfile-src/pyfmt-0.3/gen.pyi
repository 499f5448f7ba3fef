# Generates pyfmt.c
print #include <stdio.h>
print int main(int argc, char **argv)
print {
print 	for (int i = 1; i < argc; i++)
print 		printf("[%s]%s", argv[i], i + 1 < argc ? " " : "\n");
print 	return 0;
print }
