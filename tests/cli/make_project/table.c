#include <stdio.h>
#include <string.h>
#include "wordstat.h"
#define SLOTS 64
static struct { char w[32]; int n; } slots[SLOTS];
void table_add(const char *word, size_t len) {
  if (len > 31) len = 31;
  unsigned long h = util_hash(word, len) % SLOTS;
  for (int i = 0; i < SLOTS; i++, h = (h + 1) % SLOTS) {
    if (!slots[h].n) { memcpy(slots[h].w, word, len); slots[h].n = 1; return; }
    if (strlen(slots[h].w) == len && !memcmp(slots[h].w, word, len)) { slots[h].n++; return; }
  }
}
void table_print(void) {
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].n > 1) printf("%s %d\n", slots[i].w, slots[i].n);
}
