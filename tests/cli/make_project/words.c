#include <ctype.h>
#include "wordstat.h"
size_t count_words(const char *s, size_t *longest) {
  size_t n = 0, cur = 0;
  *longest = 0;
  for (;; s++) {
    if (*s && !isspace((unsigned char)*s)) { cur++; continue; }
    if (cur) {
      n++;
      table_add(s - cur, cur);
      if (cur > *longest) *longest = cur;
      cur = 0;
    }
    if (!*s) return n;
  }
}
