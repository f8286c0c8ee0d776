#include <stdio.h>
#include "wordstat.h"
int main(void) {
  const char *text = "the quick brown fox jumps over the lazy dog and the dog sleeps";
  size_t longest;
  size_t n = count_words(text, &longest);
  printf("%s: %zu words, longest %zu\n", version, n, longest);
  table_print();
  return (int)(n % 7);
}
