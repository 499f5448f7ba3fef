#include <stdio.h>
#include <stdlib.h>
#include <numadd.h>
#include <nummul.h>

int main(int argc, char **argv)
{
	int a = argc > 1 ? atoi(argv[1]) : 2;
	int b = argc > 2 ? atoi(argv[2]) : 3;

	printf("%d %d\n", num_add(a, b), num_mul(a, b));
	return 0;
}
