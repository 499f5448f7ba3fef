#include <numbase.h>
#include "numadd.h"

/* Combines the squares of a and b. */
int num_add(int a, int b)
{
	return nb_square(a) + nb_square(b);
}
