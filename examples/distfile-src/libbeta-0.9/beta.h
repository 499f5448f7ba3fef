#ifndef BETA_H
#define BETA_H
int beta_value(void);
#endif
