#ifndef NUMADD_H
#define NUMADD_H
int num_add(int a, int b);
#endif
