/* help2man: writes a minimal man page for PROGRAM from the output of `PROGRAM --help`. */
#include <stdio.h>
#include <string.h>

#define SECTION "8"

int main(int argc, char **argv)
{
	char cmd[4096], line[1024];
	const char *name;
	FILE *p;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		puts("Usage: help2man PROGRAM");
		puts("Write a manual page for PROGRAM from its --help output.");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
#ifdef ENABLE_NLS
		puts("help2man " VERSION " (NLS)");
#else
		puts("help2man " VERSION);
#endif
		return 0;
	}
	if (argc != 2) {
		fputs("usage: help2man PROGRAM\n", stderr);
		return 2;
	}
	snprintf(cmd, sizeof cmd, "'%s' --help", argv[1]);
	if ((p = popen(cmd, "r")) == NULL) {
		perror("popen");
		return 1;
	}
	name = strrchr(argv[1], '/');
	name = name ? name + 1 : argv[1];
	printf(".TH %s %s\n.SH NAME\n%s\n.SH DESCRIPTION\n", name, SECTION, name);
	while (fgets(line, sizeof line, p) != NULL)
		printf("%s%s", line[0] == '.' ? "\\&" : "", line);
	return pclose(p) == 0 ? 0 : 1;
}
