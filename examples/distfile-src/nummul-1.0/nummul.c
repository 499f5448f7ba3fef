#include <numbase.h>
#include "nummul.h"

/* Combines the squares of a and b. */
int num_mul(int a, int b)
{
	return nb_square(a) * nb_square(b);
}
