#ifndef NUMBASE_H
#define NUMBASE_H
int nb_square(int x);
#endif
