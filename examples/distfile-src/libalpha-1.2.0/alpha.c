#include "alpha.h"

int alpha_value(void)
{
	return 41;
}

const char *alpha_version(void)
{
	return "1.2.0";
}
