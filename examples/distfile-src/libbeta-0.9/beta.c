#include <alpha.h>
#include "beta.h"

int beta_value(void)
{
	return 2 * alpha_value();
}
