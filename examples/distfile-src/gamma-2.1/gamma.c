#include <stdio.h>
#include <beta.h>
#include "config.h"

int main(void)
{
	printf("gamma 2.1 (prefix %s): beta=%d\n", GAMMA_PREFIX, beta_value());
	return 0;
}
