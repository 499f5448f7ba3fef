#ifndef ALPHA_H
#define ALPHA_H
int alpha_value(void);
const char *alpha_version(void);
#endif
