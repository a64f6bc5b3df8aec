/*
 * demo.h - write the built-in demo data set (see demo.c) used by the run command.
 */
#ifndef TESSERA_SERVER_DEMO_H
#define TESSERA_SERVER_DEMO_H

#include <stdbool.h>
#include <stddef.h>

/* Create dir (if needed) and write the demo files into it, overwriting earlier ones.
 * Returns false with a message on the first failure. Not thread-safe (libtiff handlers). */
bool demo_write(const char *dir, char *msg, size_t msg_size);

#endif
