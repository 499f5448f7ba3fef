/* pyish: runs a script whose lines are `print TEXT` (prints TEXT) or `# comment`. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char line[1024];
	FILE *f;
	int n = 0;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		puts("pyish " PYVER);
		return 0;
	}
	if (argc != 2) {
		fputs("usage: pyish" PYVER " SCRIPT\n", stderr);
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		n++;
		if (strncmp(line, "print ", 6) == 0)
			fputs(line + 6, stdout);
		else if (line[0] != '#' && line[0] != '\n') {
			fprintf(stderr, "%s:%d: syntax error\n", argv[1], n);
			return 1;
		}
	}
	return 0;
}
