#ifndef NUMMUL_H
#define NUMMUL_H
int num_mul(int a, int b);
#endif
