#include "numbase.h"

int nb_square(int x)
{
	return x * x;
}
